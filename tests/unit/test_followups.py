"""Satisfaction follow-ups (回访) on both backends: a SQLite file and a real PostgreSQL.

PostgreSQL comes from TEST_DATABASE_URL (`scripts/services.sh` starts it); each test gets
a schema of its own, dropped afterwards. An unreachable PostgreSQL fails the test.
"""
import socket
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import inspect, text

from bot.cases import CaseNotFound, CaseStore
from bot.cases.followups import (
    DELAY_ENV,
    Followup,
    FollowupNotFound,
    FollowupStore,
    followup_delay,
    followup_due_at,
)
from bot.cases.sla import SERVICE_LEVELS_FILE, load_service_levels
from bot.followup.runner import (
    RasaClient,
    RunnerSettings,
    TriggerFailed,
    conversation_path,
    run_once,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2024, 3, 1, 12, 0, tzinfo=SHANGHAI)
LEASE = 120



@pytest.fixture
def cases(db_url):
    with CaseStore(db_url) as case_store:
        yield case_store


@pytest.fixture
def followups(cases):
    return FollowupStore(cases, lease_seconds=LEASE, max_attempts=3, retry_seconds=30)


def open_case(cases, shopper="shopper-1", at=NOON):
    case, _ = cases.open_case(request_key=f"req-{uuid.uuid4().hex}", shopper_id=shopper,
                              channel="rest", category="quality", severity=2,
                              description="连衣裙开线了", now=at)
    cases.set_status(case.id, "resolved", "agent-1", now=at)
    return case.id


def kinds(cases, case_id):
    return [e.kind for e in cases.get(case_id).events if e.kind.startswith(("followup", "rated"))]


DUE = NOON + timedelta(hours=24)


# --------------------------------------------------------------------------- scheduling


def test_a_followup_is_due_from_its_due_time_on(cases, followups):
    case_id = open_case(cases)
    scheduled = followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    assert isinstance(scheduled, Followup)
    assert (scheduled.case_id, scheduled.sender_id, scheduled.channel) == (case_id, "sender-1", "rest")
    assert scheduled.state == "scheduled" and scheduled.attempts == 0
    assert followups.due(DUE - timedelta(seconds=1)) == []
    assert [f.case_id for f in followups.due(DUE)] == [case_id]
    assert kinds(cases, case_id) == ["followup_scheduled"]


def test_snapshots_carry_aware_datetimes_in_shanghai(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE.astimezone(timezone.utc), now=NOON)
    got = followups.get(case_id)
    assert got.due_at == DUE and got.due_at.tzinfo == SHANGHAI
    assert got.scheduled_at == NOON and got.scheduled_at.tzinfo == SHANGHAI
    assert got.to_json()["due_at"] == "2024-03-02T12:00:00+08:00"
    with pytest.raises(AttributeError):
        got.rating = 5  # frozen


def test_due_lists_the_earliest_first(cases, followups):
    late, early = open_case(cases, "a"), open_case(cases, "b")
    followups.schedule(late, "s-late", "rest", DUE + timedelta(minutes=5), now=NOON)
    followups.schedule(early, "s-early", "rest", DUE, now=NOON)
    assert [f.case_id for f in followups.due(DUE + timedelta(hours=1))] == [early, late]
    assert [f.case_id for f in followups.due(DUE + timedelta(hours=1), limit=1)] == [early]


def test_scheduling_again_replaces_an_unfired_schedule_and_never_duplicates(cases, followups, db_url):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    later = DUE + timedelta(hours=3)
    again = followups.schedule(case_id, "sender-2", "app", later, now=NOON + timedelta(minutes=1))
    assert (again.sender_id, again.channel, again.due_at) == ("sender-2", "app", later)
    assert followups.due(DUE) == []
    assert [f.sender_id for f in followups.due(later)] == ["sender-2"]
    with cases.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM followups")).scalar() == 1
    assert kinds(cases, case_id) == ["followup_scheduled", "followup_scheduled"]
    assert cases.get(case_id).events[-1].data["replaced"] is True


def test_the_same_schedule_twice_is_recorded_once(cases, followups):
    case_id = open_case(cases)
    first = followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    second = followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON + timedelta(seconds=5))
    assert first == second
    assert kinds(cases, case_id) == ["followup_scheduled"]


def test_a_sent_followup_is_not_rescheduled(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    assert followups.claim(case_id, DUE)
    sent = followups.mark_fired(case_id, DUE)
    again = followups.schedule(case_id, "sender-1", "rest", DUE + timedelta(days=2), now=DUE)
    assert again == sent and again.state == "sent"
    assert followups.due(DUE + timedelta(days=5)) == []


def test_scheduling_needs_an_existing_case_and_an_aware_time(cases, followups):
    with pytest.raises(CaseNotFound):
        followups.schedule("SH20240301-0099", "sender-1", "rest", DUE, now=NOON)
    case_id = open_case(cases)
    with pytest.raises(ValueError, match="naive"):
        followups.schedule(case_id, "sender-1", "rest", datetime(2024, 3, 2, 12), now=NOON)
    with pytest.raises(ValueError, match="sender_id"):
        followups.schedule(case_id, " ", "rest", DUE, now=NOON)
    assert followups.get(case_id) is None


def test_concurrent_first_schedules_make_one_followup(cases, followups):
    case_id = open_case(cases)
    barrier = threading.Barrier(6)
    errors = []

    def schedule(n):
        try:
            barrier.wait()
            followups.schedule(case_id, "sender-1", "rest", DUE + timedelta(minutes=n), now=NOON)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=schedule, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with cases.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM followups")).scalar() == 1
    assert len(followups.due(DUE + timedelta(hours=1))) == 1


# --------------------------------------------------------------------------- claiming


def test_of_several_threads_claiming_the_same_followup_exactly_one_wins(cases, followups):
    case_ids = [open_case(cases, f"shopper-{n}") for n in range(3)]
    for case_id in case_ids:
        followups.schedule(case_id, f"sender-{case_id}", "rest", DUE, now=NOON)
    for case_id in case_ids:
        barrier = threading.Barrier(8)
        results = []
        lock = threading.Lock()

        def claim():
            barrier.wait()
            won = followups.claim(case_id, DUE)
            with lock:
                results.append(won)

        threads = [threading.Thread(target=claim) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == [False] * 7 + [True]
        assert followups.get(case_id).attempts == 1


def test_two_stores_on_one_database_never_both_claim(cases, followups, db_url):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    with CaseStore(db_url) as other_cases:
        other = FollowupStore(other_cases, lease_seconds=LEASE)
        assert followups.claim(case_id, DUE) is True
        assert other.claim(case_id, DUE) is False


def test_a_followup_cannot_be_claimed_before_it_is_due(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    assert followups.claim(case_id, DUE - timedelta(seconds=1)) is False
    assert followups.claim("SH20240301-0099", DUE) is False
    assert followups.get(case_id).attempts == 0


def test_a_claim_keeps_others_away_until_its_lease_runs_out(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    assert followups.claim(case_id, DUE)
    within = DUE + timedelta(seconds=LEASE - 1)
    assert followups.due(within) == [] and followups.claim(case_id, within) is False
    # The runner that claimed it died: after the lease another one may try.
    after = DUE + timedelta(seconds=LEASE + 1)
    assert [f.case_id for f in followups.due(after)] == [case_id]
    assert followups.claim(case_id, after) is True
    assert followups.get(case_id).attempts == 2


def test_a_fired_followup_is_never_due_again(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    assert followups.claim(case_id, DUE)
    sent = followups.mark_fired(case_id, DUE + timedelta(seconds=1))
    assert sent.state == "sent" and sent.fired_at == DUE + timedelta(seconds=1)
    for later in (DUE, DUE + timedelta(seconds=LEASE + 1), DUE + timedelta(days=30)):
        assert followups.due(later) == []
        assert followups.claim(case_id, later) is False
    # Marking twice keeps the first time and records one event.
    assert followups.mark_fired(case_id, DUE + timedelta(hours=1)).fired_at == sent.fired_at
    assert kinds(cases, case_id) == ["followup_scheduled", "followup_sent"]
    # A late release (a runner that thought its call failed) changes nothing.
    assert followups.release(case_id, "timeout", DUE + timedelta(hours=2)).state == "sent"


# --------------------------------------------------------------------------- failures


def test_a_released_followup_is_retried_after_a_growing_backoff(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    assert followups.claim(case_id, DUE)
    first = followups.release(case_id, "Rasa answered HTTP 500", DUE)
    assert (first.attempts, first.last_error, first.claimed_at) == (1, "Rasa answered HTTP 500", None)
    assert first.retry_at == DUE + timedelta(seconds=30)
    assert followups.due(DUE + timedelta(seconds=29)) == []
    assert followups.claim(case_id, DUE + timedelta(seconds=29)) is False
    retry = DUE + timedelta(seconds=30)
    assert [f.case_id for f in followups.due(retry)] == [case_id]
    assert followups.claim(case_id, retry)
    second = followups.release(case_id, "cannot connect to Rasa", retry)
    assert second.attempts == 2 and second.retry_at == retry + timedelta(seconds=60)
    assert followups.claim(case_id, second.retry_at)
    done = followups.mark_fired(case_id, second.retry_at)
    assert done.state == "sent" and done.attempts == 3 and done.retry_at is None


def test_a_followup_is_given_up_after_the_attempt_limit(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    now = DUE
    for attempt in range(1, 4):
        assert followups.claim(case_id, now), attempt
        released = followups.release(case_id, f"HTTP 500 #{attempt}", now)
        now = released.retry_at or now
    assert released.state == "given_up" and released.attempts == 3
    assert released.gave_up_at == now and released.last_error == "HTTP 500 #3"
    assert followups.due(now + timedelta(days=1)) == []
    assert followups.claim(case_id, now + timedelta(days=1)) is False
    assert kinds(cases, case_id) == ["followup_scheduled", "followup_failed"]
    failed = cases.get(case_id).events[-1]
    assert failed.data == {"attempts": 3, "error": "HTTP 500 #3"}
    # Scheduling it anew gives it fresh attempts.
    revived = followups.schedule(case_id, "sender-1", "rest", now + timedelta(hours=1), now=now)
    assert revived.state == "scheduled" and revived.attempts == 0 and revived.last_error is None
    assert followups.claim(case_id, now + timedelta(hours=1))


def test_a_failure_no_retry_can_fix_is_given_up_at_once(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    assert followups.claim(case_id, DUE)
    given_up = followups.release(case_id, "bad conversation id", DUE, give_up=True)
    assert given_up.state == "given_up" and given_up.attempts == 1
    assert kinds(cases, case_id) == ["followup_scheduled", "followup_failed"]


def test_a_long_error_is_cut(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    followups.claim(case_id, DUE)
    assert len(followups.release(case_id, "x" * 5000, DUE).last_error) == 500


# --------------------------------------------------------------------------- restarts


def test_the_schedule_survives_a_restart(db_url):
    with CaseStore(db_url) as cases:
        store = FollowupStore(cases, lease_seconds=LEASE)
        due_id, sent_id, claimed_id = (open_case(cases, s) for s in ("a", "b", "c"))
        for case_id in (due_id, sent_id, claimed_id):
            store.schedule(case_id, f"sender-{case_id}", "rest", DUE, now=NOON)
        store.claim(sent_id, DUE)
        store.mark_fired(sent_id, DUE)
        store.claim(claimed_id, DUE)  # and then the process died
    with CaseStore(db_url) as cases:
        store = FollowupStore(cases, lease_seconds=LEASE)
        assert store.get(sent_id).state == "sent"
        assert [f.case_id for f in store.due(DUE + timedelta(seconds=1))] == [due_id]
        assert store.claim(sent_id, DUE + timedelta(days=1)) is False
        assert store.claim(claimed_id, DUE + timedelta(seconds=1)) is False
        assert store.claim(claimed_id, DUE + timedelta(seconds=LEASE + 1)) is True


def test_a_database_from_before_followups_gets_the_table_and_keeps_its_cases(db_url):
    with CaseStore(db_url) as cases:
        case_id = open_case(cases)
        with cases.engine.begin() as connection:
            connection.execute(text("DROP TABLE followups"))
        assert "followups" not in inspect(cases.engine).get_table_names()
    with CaseStore(db_url) as cases:
        assert "followups" in inspect(cases.engine).get_table_names()
        assert cases.get(case_id).status == "resolved"
        store = FollowupStore(cases)
        assert store.schedule(case_id, "sender-1", "rest", DUE, now=NOON).state == "scheduled"


# --------------------------------------------------------------------------- ratings


def test_the_rating_is_recorded_with_an_event(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    followups.claim(case_id, DUE)
    followups.mark_fired(case_id, DUE)
    rated_at = DUE + timedelta(minutes=3)
    rated = followups.record_rating(case_id, 4, rated_at)
    assert (rated.rating, rated.rated_at, rated.state) == (4, rated_at, "rated")
    assert followups.record_rating(case_id, 4, rated_at + timedelta(minutes=1)) == rated
    changed = followups.record_rating(case_id, 2, rated_at + timedelta(minutes=2))
    assert changed.rating == 2
    assert kinds(cases, case_id) == ["followup_scheduled", "followup_sent", "rated", "rated"]
    last = cases.get(case_id).events[-1]
    assert (last.actor, last.data) == ("shopper", {"rating": 2, "previous": 4})


@pytest.mark.parametrize("rating", [0, 6, True, 4.0, "5", None])
def test_a_rating_is_a_whole_number_from_1_to_5(cases, followups, rating):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    with pytest.raises(ValueError, match="1–5"):
        followups.record_rating(case_id, rating, DUE)


def test_a_rating_without_a_followup_is_refused(cases, followups):
    case_id = open_case(cases)
    with pytest.raises(FollowupNotFound):
        followups.record_rating(case_id, 5, DUE)
    with pytest.raises(FollowupNotFound):
        followups.mark_fired(case_id, DUE)


def test_a_followup_rated_before_it_fired_is_not_sent(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    followups.record_rating(case_id, 5, NOON + timedelta(hours=1))
    assert followups.due(DUE) == [] and followups.claim(case_id, DUE) is False


# --------------------------------------------------------------------------- the delay


def test_the_delay_is_24_hours_from_the_yaml_unless_the_environment_says_otherwise():
    assert followup_delay({}) == timedelta(hours=24)
    assert followup_delay({DELAY_ENV: " "}) == timedelta(hours=24)
    assert followup_delay({DELAY_ENV: "30"}) == timedelta(seconds=30)
    assert followup_delay({DELAY_ENV: "0.5"}) == timedelta(milliseconds=500)
    assert followup_due_at(NOON, {}) == NOON + timedelta(hours=24)
    assert followup_due_at(NOON, {DELAY_ENV: "90"}) == NOON + timedelta(seconds=90)
    assert followup_due_at(NOON.astimezone(timezone.utc), {}).tzinfo == SHANGHAI


def test_the_delay_reads_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv(DELAY_ENV, "2")
    assert followup_delay() == timedelta(seconds=2)
    monkeypatch.delenv(DELAY_ENV)
    assert followup_delay() == timedelta(hours=24)


@pytest.mark.parametrize("raw", ["abc", "-1", "nan", "inf"])
def test_a_bad_delay_in_the_environment_is_an_error_naming_the_variable(raw):
    with pytest.raises(ValueError, match=DELAY_ENV):
        followup_delay({DELAY_ENV: raw})


def _levels_with_followup(tmp_path: Path, window: dict):
    data = yaml.safe_load(SERVICE_LEVELS_FILE.read_text(encoding="utf-8"))
    data["windows"]["followup_after_resolution"] = window
    path = tmp_path / "service_levels.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_service_levels(path)


def test_a_shop_can_change_the_delay_in_the_yaml(tmp_path):
    assert followup_delay({}, _levels_with_followup(tmp_path, {"hours": 48})) == timedelta(hours=48)
    assert followup_delay({}, _levels_with_followup(tmp_path, {"days": 2})) == timedelta(days=2)
    working = _levels_with_followup(tmp_path, {"working_days": 1})
    with pytest.raises(ValueError, match="followup_due_at"):
        followup_delay({}, working)
    friday = datetime(2024, 3, 1, 15, 0, tzinfo=SHANGHAI)
    assert followup_due_at(friday, {}, working) == datetime(2024, 3, 4, 15, 0, tzinfo=SHANGHAI)


# --------------------------------------------------------------------------- run_once


class StubRasa:
    def __init__(self, fail=False):
        self.calls, self.fail = [], fail

    def start_followup(self, sender_id, case_id):
        self.calls.append((sender_id, case_id))
        if self.fail:
            raise TriggerFailed("Rasa answered HTTP 500")


def test_run_once_fires_what_is_due_once(cases, followups):
    due_id, later_id = open_case(cases, "a"), open_case(cases, "b")
    followups.schedule(due_id, "sender-a", "rest", DUE, now=NOON)
    followups.schedule(later_id, "sender-b", "rest", DUE + timedelta(hours=1), now=NOON)
    rasa = StubRasa()
    assert run_once(followups, rasa, DUE) == 1
    assert rasa.calls == [("sender-a", due_id)]
    assert run_once(followups, rasa, DUE + timedelta(minutes=1)) == 0
    assert followups.get(due_id).state == "sent" and followups.get(later_id).state == "scheduled"
    assert run_once(followups, rasa, DUE + timedelta(hours=2)) == 1
    assert [c[1] for c in rasa.calls] == [due_id, later_id]


def test_run_once_releases_a_failed_trigger_for_a_retry(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    assert run_once(followups, StubRasa(fail=True), DUE) == 0
    failed = followups.get(case_id)
    assert (failed.state, failed.attempts, failed.last_error) == ("scheduled", 1, "Rasa answered HTTP 500")
    assert run_once(followups, StubRasa(), DUE + timedelta(seconds=10)) == 0  # backoff
    assert run_once(followups, StubRasa(), failed.retry_at) == 1


def test_run_once_skips_a_followup_another_runner_claimed(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)
    assert followups.claim(case_id, DUE)
    rasa = StubRasa()
    assert run_once(followups, rasa, DUE) == 0 and rasa.calls == []


def test_an_unexpected_client_error_is_stored_by_kind_only(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "sender-1", "rest", DUE, now=NOON)

    class Broken:
        def start_followup(self, sender_id, case_id):
            raise KeyError(f"secret {sender_id}")

    assert run_once(followups, Broken(), DUE) == 0
    assert followups.get(case_id).last_error == "KeyError"


@pytest.mark.parametrize("sender", ["abc-123", "app:user/42@shop", "rest_7.x~(1)"])
def test_a_conversation_id_of_path_characters_goes_into_the_url_as_it_is(sender):
    assert conversation_path(sender) == sender


@pytest.mark.parametrize("sender", ["张三", "user 42", "a%20b", "a?b", "a#b", ""])
def test_a_conversation_id_rasa_would_read_differently_is_a_permanent_failure(sender):
    # Rasa 3.6 (Sanic 21.12) does not percent-decode path parameters.
    with pytest.raises(TriggerFailed) as failure:
        conversation_path(sender)
    assert failure.value.permanent
    assert not sender or sender not in str(failure.value)


def test_run_once_gives_up_a_conversation_rasa_cannot_address(cases, followups):
    case_id = open_case(cases)
    followups.schedule(case_id, "顾客 1", "rest", DUE, now=NOON)
    client = RasaClient(f"http://127.0.0.1:{_closed_port()}", token="t")
    assert run_once(followups, client, DUE) == 0
    assert followups.get(case_id).state == "given_up"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_rasa_that_is_down_is_a_trigger_failure_without_the_token():
    client = RasaClient(f"http://127.0.0.1:{_closed_port()}", token="s3cr3t-token", timeout=2)
    with pytest.raises(TriggerFailed) as failure:
        client.start_followup("shopper-phone-13800000000", "SH1")
    assert "cannot connect" in str(failure.value)
    assert "s3cr3t-token" not in str(failure.value) and "13800000000" not in str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert "s3cr3t-token" not in repr(client)


# --------------------------------------------------------------------------- settings


def test_runner_settings_have_defaults_and_reject_nonsense():
    settings = RunnerSettings.from_env({})
    assert settings.rasa_url == "http://localhost:5005" and settings.rasa_token is None
    assert settings.poll_seconds == 5 and settings.max_attempts == 5
    custom = RunnerSettings.from_env({"RASA_URL": "http://rasa:5005/", "RASA_AUTH_TOKEN": "t",
                                      "FOLLOWUP_POLL_SECONDS": "0.2", "DATABASE_URL": "sqlite:///x.db"})
    assert (custom.rasa_url, custom.rasa_token, custom.poll_seconds, custom.database_url) == \
        ("http://rasa:5005", "t", 0.2, "sqlite:///x.db")
    for bad in ({"FOLLOWUP_POLL_SECONDS": "0"}, {"FOLLOWUP_POLL_SECONDS": "soon"},
                {"FOLLOWUP_MAX_ATTEMPTS": "2.5"}, {"RASA_URL": "localhost:5005"},
                {"FOLLOWUP_LEASE_SECONDS": "5", "FOLLOWUP_HTTP_TIMEOUT_SECONDS": "10"}):
        with pytest.raises(ValueError):
            RunnerSettings.from_env(bad)
