"""The case store on both backends it supports: a SQLite file and a real PostgreSQL
(the `db_url` fixture in conftest.py)."""
import threading
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import text

from bot.cases import (
    MAX_DESCRIPTION_CHARS,
    STATUSES,
    CaseNotFound,
    CaseStore,
    default_database_url,
    status_label,
    status_next_step,
)
from bot.cases.status import StatusTextError, parse_status_texts

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2024, 3, 1, 12, 0, tzinfo=SHANGHAI)



@pytest.fixture
def store(db_url):
    with CaseStore(db_url) as case_store:
        yield case_store


def complaint(**overrides):
    values = dict(request_key=f"req-{uuid.uuid4().hex}", shopper_id="shopper-1", channel="rest",
                  category="quality", severity=2, description="连衣裙开线了", now=NOON)
    values.update(overrides)
    return values


def test_cases_of_a_day_are_numbered_from_0001(store):
    first, created_first = store.open_case(**complaint(shopper_id="a"))
    second, created_second = store.open_case(**complaint(shopper_id="b"))
    assert (first.id, second.id) == ("SH20240301-0001", "SH20240301-0002")
    assert created_first and created_second
    assert first.status == "open" and [e.kind for e in first.events] == ["opened"]


def test_numbering_restarts_at_midnight_in_shanghai_not_utc(store):
    before_midnight = datetime(2024, 3, 1, 15, 59, tzinfo=timezone.utc)  # 23:59 in Shanghai
    after_midnight = datetime(2024, 3, 1, 16, 0, tzinfo=timezone.utc)    # 00:00 on 3 March
    assert store.open_case(**complaint(shopper_id="a", now=before_midnight))[0].id == "SH20240301-0001"
    assert store.open_case(**complaint(shopper_id="b", now=before_midnight))[0].id == "SH20240301-0002"
    assert store.open_case(**complaint(shopper_id="c", now=after_midnight))[0].id == "SH20240302-0001"
    assert store.open_case(**complaint(shopper_id="d", now=before_midnight))[0].id == "SH20240301-0003"


def test_numbers_past_9999_keep_counting(store, db_url):
    # The next number is a numeric max, not a string max ("-9999" > "-10000" as text).
    with store.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO cases (id, day, seq, shopper_id, channel, category, severity, status, "
            "needs_human, photos, description, created_at, updated_at) VALUES "
            "('SH20240301-9999', '20240301', 9999, 'x', 'rest', 'quality', 2, 'closed', "
            ":f, '[]', 'x', :at, :at)"), {"f": False, "at": NOON.astimezone(timezone.utc)})
    assert store.open_case(**complaint())[0].id == "SH20240301-10000"
    assert store.open_case(**complaint(shopper_id="b"))[0].id == "SH20240301-10001"


def test_a_retried_request_returns_the_same_case_and_creates_nothing(store):
    case, created = store.open_case(**complaint(request_key="sender-1:msg-7", order_id="O1"))
    again, created_again = store.open_case(**complaint(request_key="sender-1:msg-7", order_id="O1",
                                                       description="重发的一条"))
    # The retry is answered like the first attempt: this request opened the case.
    assert created and created_again
    assert again.id == case.id
    assert again.events == case.events
    assert len(store.cases_of("shopper-1")) == 1


def test_a_retried_repeat_complaint_is_recorded_once(store):
    case, _ = store.open_case(**complaint(order_id="O1"))
    for _ in range(3):
        joined, created = store.open_case(**complaint(request_key="sender-1:msg-9", order_id="O1",
                                                      description="又来问一次"))
        assert not created and joined.id == case.id
    assert [e.kind for e in store.get(case.id).events] == ["opened", "repeated_complaint"]


def test_a_repeat_complaint_about_the_same_order_joins_the_open_case(store):
    photo = {"sha256": "a" * 64, "filename": "a" * 64 + ".jpg", "format": "JPEG",
             "width": 800, "height": 600, "size": 1234}
    case, _ = store.open_case(**complaint(order_id="O1"))
    joined, created = store.open_case(**complaint(order_id="O1", description="还没人理我，开线越来越大",
                                                  photos=[photo], now=NOON + timedelta(hours=1)))
    assert not created
    assert joined.id == case.id
    assert joined.description == "连衣裙开线了"  # the first words stay the case's description
    repeat = joined.events[-1]
    assert repeat.kind == "repeated_complaint" and repeat.actor == "shopper"
    assert repeat.data["description"] == "还没人理我，开线越来越大"
    assert joined.photos == (photo,)
    assert joined.updated_at == NOON + timedelta(hours=1)


@pytest.mark.parametrize("status", ["awaiting_shopper", "escalated", "reopened"])
def test_every_unfinished_status_takes_the_repeat_complaint(store, status):
    case, _ = store.open_case(**complaint(order_id="O1"))
    store.set_status(case.id, status, actor="bot")
    assert store.open_case(**complaint(order_id="O1"))[0].id == case.id


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_a_finished_case_is_not_reused(store, status):
    case, _ = store.open_case(**complaint(order_id="O1"))
    store.set_status(case.id, status, actor="agent 小王")
    new, created = store.open_case(**complaint(order_id="O1"))
    assert created and new.id != case.id


def test_a_different_category_or_order_or_shopper_opens_a_new_case(store):
    case, _ = store.open_case(**complaint(order_id="O1"))
    ids = {case.id}
    for overrides in ({"category": "logistics"}, {"order_id": "O2"}, {"shopper_id": "other"}):
        new, created = store.open_case(**complaint(**{"order_id": "O1", **overrides}))
        assert created
        ids.add(new.id)
    assert len(ids) == 4


def test_complaints_without_an_order_always_open_their_own_case(store):
    first, _ = store.open_case(**complaint())
    second, created = store.open_case(**complaint())
    assert created and first.id != second.id


def test_all_fields_and_aware_datetimes_round_trip(store):
    due_first = datetime(2024, 3, 1, 6, 0, tzinfo=timezone.utc)
    due_solution = datetime(2024, 3, 4, 12, 0, tzinfo=SHANGHAI)
    photo = {"sha256": "b" * 64, "filename": "b" * 64 + ".png", "format": "PNG",
             "width": 10, "height": 20, "size": 99}
    case, _ = store.open_case(**complaint(
        channel="liveroom", order_id="1234567890123456789", secondary_category="logistics",
        severity=1, photos=[photo], photo_missing_reason=None, remedy="refund",
        first_response_due=due_first, solution_due=due_solution,
        needs_human=True, needs_human_reason="安全问题"))
    read = store.get(case.id)
    assert read == case
    assert read.first_response_due == due_first and read.solution_due == due_solution
    for moment in (read.created_at, read.updated_at, read.first_response_due, read.solution_due,
                   *(e.at for e in read.events)):
        assert moment.tzinfo is not None and moment.utcoffset() == timedelta(hours=8)
    assert read.created_at == NOON
    assert (read.channel, read.secondary_category, read.severity, read.remedy) == \
        ("liveroom", "logistics", 1, "refund")
    assert read.needs_human and read.needs_human_reason == "安全问题"
    assert read.photos == (photo,)
    assert [e.kind for e in read.events] == ["opened", "marked_for_human"]


def test_naive_datetimes_are_refused(store):
    with pytest.raises(ValueError, match="naive"):
        store.open_case(**complaint(now=datetime(2024, 3, 1, 12, 0)))
    with pytest.raises(ValueError, match="naive"):
        store.open_case(**complaint(solution_due=datetime(2024, 3, 4)))


@pytest.mark.parametrize("bad", [
    {"category": "weather"}, {"severity": 4}, {"severity": True}, {"remedy": "apology"},
    {"shopper_id": " "}, {"request_key": ""}, {"photos": [{"filename": "x.jpg"}]},
])
def test_invalid_complaints_are_refused_with_a_reason(store, bad):
    with pytest.raises(ValueError):
        store.open_case(**complaint(**bad))
    assert store.cases_of("shopper-1") == []


def test_events_keep_the_order_they_happened_in(store):
    case, _ = store.open_case(**complaint(order_id="O1"))
    store.add_event(case.id, "note", "agent 小王", {"text": "已联系仓库"}, now=NOON)
    store.mark_for_human(case.id, "顾客要求人工", now=NOON)
    store.set_status(case.id, "awaiting_shopper", actor="bot", note="等照片", now=NOON)
    store.add_photos(case.id, [{"sha256": "c" * 64}], now=NOON)
    read = store.get(case.id)
    assert [e.kind for e in read.events] == \
        ["opened", "note", "marked_for_human", "status_changed", "photo_added"]
    assert [e.actor for e in read.events] == ["shopper", "agent 小王", "bot", "bot", "shopper"]
    assert read.events[1].data == {"text": "已联系仓库"}


def test_set_status_records_from_and_to_and_validates_the_name(store):
    case, _ = store.open_case(**complaint())
    later = NOON + timedelta(minutes=5)
    updated = store.set_status(case.id, "resolved", actor="agent 小王", note="已退款", now=later)
    assert updated.status == "resolved" and updated.updated_at == later
    assert updated.events[-1].kind == "status_changed"
    assert updated.events[-1].data == {"from": "open", "to": "resolved", "note": "已退款"}
    assert len(store.set_status(case.id, "resolved", actor="bot").events) == len(updated.events)
    with pytest.raises(ValueError, match="unknown case status"):
        store.set_status(case.id, "done", actor="bot")
    with pytest.raises(CaseNotFound, match="SH20990101-0001"):
        store.set_status("SH20990101-0001", "closed", actor="bot")
    assert store.get(case.id).status == "resolved"


def test_marking_for_a_human_keeps_the_status(store):
    case, _ = store.open_case(**complaint())
    marked = store.mark_for_human(case.id, "顾客要求人工")
    assert marked.needs_human and marked.needs_human_reason == "顾客要求人工"
    assert marked.status == "open"
    assert marked.events[-1].kind == "marked_for_human"
    assert marked.events[-1].data == {"reason": "顾客要求人工"}


def test_adding_the_same_photo_twice_keeps_one(store):
    case, _ = store.open_case(**complaint(photo_missing_reason=None))
    photo = {"sha256": "d" * 64, "filename": "d" * 64 + ".jpg"}
    store.add_photos(case.id, [photo])
    updated = store.add_photos(case.id, [photo, {"sha256": "e" * 64}])
    assert [p["sha256"] for p in updated.photos] == ["d" * 64, "e" * 64]
    assert [e.data["sha256"] for e in updated.events if e.kind == "photo_added"] == \
        [["d" * 64], ["e" * 64]]


def test_add_event_rejects_bad_kinds_and_unserialisable_data(store):
    case, _ = store.open_case(**complaint())
    with pytest.raises(ValueError):
        store.add_event(case.id, "Not A Kind", "bot")
    with pytest.raises(ValueError, match="JSON"):
        store.add_event(case.id, "note", "bot", {"at": datetime.now(timezone.utc)})
    with pytest.raises(CaseNotFound):
        store.add_event("SH20990101-0001", "note", "bot")


def test_cases_of_lists_newest_first(store):
    ids = [store.open_case(**complaint(now=NOON + timedelta(minutes=i)))[0].id for i in range(3)]
    store.open_case(**complaint(shopper_id="someone else"))
    assert [c.id for c in store.cases_of("shopper-1")] == list(reversed(ids))
    assert store.cases_of("nobody") == []
    assert store.get("SH20990101-0001") is None


def test_a_long_description_is_cut_with_a_marker(store):
    exact = "好" * MAX_DESCRIPTION_CHARS
    assert store.open_case(**complaint(description=exact))[0].description == exact

    words = "开线" * 4000  # 8000 characters
    case, _ = store.open_case(**complaint(description=words))
    assert len(case.description) == MAX_DESCRIPTION_CHARS
    assert case.description.startswith(words[:4000])
    assert case.description.endswith("【内容过长已截断，原文共 8000 字】")
    assert case.events[0].data["description_truncated"] is True
    assert store.get(case.id).description == case.description


def test_concurrent_writers_get_distinct_ids(db_url):
    # Each thread has its own store, as separate bot processes would.
    threads_count, per_thread = 6, 5
    barrier = threading.Barrier(threads_count)
    results, errors = [], []

    def writer(n):
        try:
            with CaseStore(db_url) as own_store:
                barrier.wait(timeout=60)  # a thread that failed breaks it for all
                for i in range(per_thread):
                    case, created = own_store.open_case(**complaint(shopper_id=f"s{n}-{i}"))
                    results.append((case.id, created))
        except Exception as error:  # reported below with the thread's number
            errors.append((n, repr(error)))

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    ids = sorted(case_id for case_id, _ in results)
    assert all(created for _, created in results)
    assert ids == [f"SH20240301-{n:04d}" for n in range(1, threads_count * per_thread + 1)]


def test_concurrent_retries_of_one_request_open_one_case(store):
    barrier = threading.Barrier(5)
    results = []

    def retry():
        barrier.wait()
        results.append(store.open_case(**complaint(request_key="sender:msg-1", order_id="O9")))

    threads = [threading.Thread(target=retry) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 5 and len({case.id for case, _ in results}) == 1
    # Every attempt is answered as the one that opened the case, and only one case
    # with one "opened" event exists.
    assert all(created for _, created in results)
    assert len(store.cases_of("shopper-1")) == 1
    assert [e.kind for e in store.get(results[0][0].id).events] == ["opened"]


def test_cases_survive_a_restart(db_url):
    with CaseStore(db_url) as first:
        case, _ = first.open_case(**complaint(order_id="O1"))
        first.set_status(case.id, "escalated", actor="bot")
    with CaseStore(db_url) as second:
        read = second.get(case.id)
        assert read is not None and read.status == "escalated"
        assert second.open_case(**complaint(shopper_id="b"))[0].id == "SH20240301-0002"


def test_to_json_is_the_public_case_api(store):
    case, _ = store.open_case(**complaint(
        order_id="O1", first_response_due=datetime(2024, 3, 1, 6, 0, tzinfo=timezone.utc)))
    data = store.get(case.id).to_json()
    assert set(data) == {
        "id", "shopper_id", "channel", "order_id", "category", "secondary_category", "severity",
        "status", "needs_human", "needs_human_reason", "photos", "photo_missing_reason",
        "description", "remedy", "due_at", "created_at", "updated_at", "events", "compensation"}
    assert data["due_at"] == {"first_response": "2024-03-01T14:00:00+08:00", "solution": None}
    assert data["created_at"] == "2024-03-01T12:00:00+08:00"
    assert data["events"] == [{"at": "2024-03-01T12:00:00+08:00", "kind": "opened",
                               "actor": "shopper", "data": case.events[0].data}]


# ---------------------------------------------------------------- backend-independent


def test_the_default_database_is_a_sqlite_file_in_var_unless_configured():
    assert default_database_url({}).endswith("/var/cases.db")
    assert default_database_url({}).startswith("sqlite:///")
    assert default_database_url({"DATABASE_URL": "postgresql://x@h/db"}) == "postgresql://x@h/db"


def test_every_status_has_a_label_and_a_next_step_for_shoppers():
    labels = {status: status_label(status) for status in STATUSES}
    assert labels == {"open": "处理中", "awaiting_shopper": "等待您补充", "escalated": "已转人工",
                      "resolved": "已解决", "closed": "已关闭", "reopened": "已重新处理"}
    assert all(status_next_step(status) for status in STATUSES)
    with pytest.raises(ValueError):
        status_label("done")


def test_a_status_text_file_missing_a_status_is_reported():
    data = {s: {"label": "x", "next_step": "y"} for s in STATUSES if s != "closed"}
    with pytest.raises(StatusTextError, match="closed"):
        parse_status_texts(data)
    with pytest.raises(StatusTextError, match="label"):
        parse_status_texts({**data, "closed": {"label": "", "next_step": "y"}})
    assert parse_status_texts(yaml.safe_load(yaml.safe_dump(
        {**data, "closed": {"label": "已关闭", "next_step": "y"}})))["closed"].label == "已关闭"


def test_an_accepted_offer_resolves_the_case_with_its_remedy_and_amounts(store):
    case, _ = store.open_case(**complaint(order_id="O1"))
    offer = {"code": "exchange_warranty", "remedy": "exchange", "refund": "0.00",
             "coupon": "0.00", "warranty_months": 12, "text": "免费换新 + 延长保修 12 个月"}
    store.add_event(case.id, "offer_made", "bot", {"code": "coupon", "coupon": "19.35"})
    store.add_event(case.id, "offer_declined", "shopper", {"code": "coupon"})
    store.add_event(case.id, "offer_made", "bot", offer)
    resolved = store.resolve_with(case.id, "exchange", offer)
    assert resolved.status == "resolved" and resolved.remedy == "exchange"
    assert resolved.compensation() == {
        "offers": [{"code": "coupon", "coupon": "19.35"}, offer],
        "declined": ["coupon"], "accepted": offer}
    assert store.get(case.id).to_json()["compensation"]["accepted"]["warranty_months"] == 12
    with pytest.raises(ValueError):
        store.resolve_with(case.id, "free money", offer)


def test_details_given_after_the_case_opened_are_filled_in_once(store):
    case, _ = store.open_case(**complaint(severity=1, needs_human=True,
                                          needs_human_reason="severity_1"))
    assert case.order_id is None and case.remedy is None
    filled = store.add_details(case.id, order_id="6912345678901234567", remedy="refund")
    assert (filled.order_id, filled.remedy) == ("6912345678901234567", "refund")
    again = store.add_details(case.id, order_id="6900000000000000000", remedy="exchange")
    assert (again.order_id, again.remedy) == ("6912345678901234567", "refund")
    assert [e.kind for e in again.events].count("details_added") == 1
