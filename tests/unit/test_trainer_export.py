"""The trainer's export (python -m bot.trainer export): shopper messages read back from a
real tracker store — a SQLite file and a real Redis server — masked, pseudonymous, with
what the bot did next, filtered by days in Asia/Shanghai."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import uuid
from datetime import date, datetime
from pathlib import Path

import pytest
import redis
from rasa.core.tracker_store import RedisTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.trainer.export import (SHANGHAI, cli, export_records, open_store, pseudonym,
                                records_from_events, write_jsonl)

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://localhost:6379/15")

PHONE_SENDER = "+8613812345678"
LATE_SENDER = "shopper-b"
EARLY_SENDER = "early-bird"
ORDER = "4883690060267735468"


def at(text: str) -> float:
    """A Unix time from a wall-clock time in Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).timestamp()


def user(text, when, intent=None, confidence=None, channel="rest"):
    parse_data = {"intent": {"name": intent, "confidence": confidence}} if intent else None
    return UserUttered(text, parse_data=parse_data, timestamp=at(when), input_channel=channel)


def action(name, when):
    return ActionExecuted(name, timestamp=at(when))


def bot(text, when):
    return BotUttered(text, timestamp=at(when))


def conversations() -> dict[str, list]:
    return {
        PHONE_SENDER: [
            action("action_session_start", "2026-12-01 10:00:00"),
            SessionStarted(timestamp=at("2026-12-01 10:00:00")),
            action("action_listen", "2026-12-01 10:00:00"),
            user("你好", "2026-12-01 10:00:01", "greet", 0.98),
            action("utter_greet", "2026-12-01 10:00:02"),
            bot("您好，请问有什么可以帮您？", "2026-12-01 10:00:02"),
            action("action_listen", "2026-12-01 10:00:02"),
            user(f"我叫张伟，台灯灯罩裂了，订单{ORDER}", "2026-12-01 10:01:00",
                 "complain_quality", 0.91),
            action("complaint_form", "2026-12-01 10:01:01"),
            bot("很抱歉给您添麻烦了", "2026-12-01 10:01:01"),
            action("action_listen", "2026-12-01 10:01:01"),
            user(f'/inform{{"order_id":"{ORDER}"}}', "2026-12-01 10:02:00", "inform", 1.0),
            action("action_listen", "2026-12-01 10:02:01"),
            user("寄到杭州市西湖区文三路88号，电话138-1234-5678，收件人王小明",
                 "2026-12-01 10:03:00", "provide_address", 0.45),
            action("action_listen", "2026-12-01 10:03:01"),
            # The next day, still the same conversation.
            user("转人工", "2026-12-02 09:00:00", "request_human", 0.99),
            action("action_escalate", "2026-12-02 09:00:01"),
            bot("已为您转接人工客服", "2026-12-02 09:00:01"),
            action("action_listen", "2026-12-02 09:00:01"),
        ],
        LATE_SENDER: [
            action("action_listen", "2026-12-02 23:59:58"),
            user("快递三天没动", "2026-12-02 23:59:59", "complain_logistics", 0.55,
                 channel="app"),
            action("utter_empathy_logistics", "2026-12-03 00:00:00"),
            action("action_listen", "2026-12-03 00:00:00"),
            # Midnight in Shanghai is 16:00 UTC: this one belongs to 3 December.
            user("王先生说还没到", "2026-12-03 00:00:00", "complain_logistics", 0.7,
                 channel="app"),
        ],
        EARLY_SENDER: [
            user("在吗", "2026-11-30 23:59:59", channel=None),
            action("action_listen", "2026-11-30 23:59:59"),
        ],
    }


SECRETS = ("张伟", ORDER, "文三路", "西湖区", "138-1234-5678", "13812345678", "王小明",
           "王先生")
SENDERS = (PHONE_SENDER, PHONE_SENDER.lstrip("+"), LATE_SENDER, EARLY_SENDER)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


def redis_settings() -> dict:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: run scripts/services.sh (make test does)",
                    pytrace=False)
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({error}); run scripts/services.sh "
                    "(make test does)", pytrace=False)
    kwargs = client.connection_pool.connection_kwargs
    client.close()
    return {"host": kwargs.get("host", "localhost"), "port": kwargs.get("port", 6379),
            "db": kwargs.get("db", 0), "password": kwargs.get("password")}


@pytest.fixture(params=["sql", "redis"])
def endpoints(request, tmp_path, domain):
    """An endpoints file whose tracker store holds the conversations above."""
    if request.param == "sql":
        db = tmp_path / "tracker.db"
        store = SQLTrackerStore(domain, dialect="sqlite", db=str(db))
        config = {"type": "SQL", "dialect": "sqlite", "db": str(db)}
        cleanup = store.engine.dispose
    else:
        settings = redis_settings()
        # Only our own keys, under a prefix no one else uses, are written and removed.
        prefix = f"trainerexport{uuid.uuid4().hex[:12]}"
        store = RedisTrackerStore(domain, key_prefix=prefix, **settings)
        config = {"type": "redis", "url": settings["host"], "port": settings["port"],
                  "db": settings["db"], "key_prefix": prefix}
        if settings["password"]:
            config["password"] = settings["password"]

        def cleanup():
            for key in store.red.scan_iter(match=f"{prefix}:*"):
                store.red.delete(key)
            store.red.close()

    async def save_all():
        for sender_id, events in conversations().items():
            await store.save(DialogueStateTracker.from_events(sender_id, events, domain.slots))
    asyncio.run(save_all())
    path = tmp_path / "endpoints.yml"
    path.write_text(json.dumps({"tracker_store": config}), encoding="utf-8")  # JSON is YAML
    yield path
    cleanup()


def export(endpoints_path, domain, start=None, end=None):
    store = open_store(endpoints_path, domain)
    return asyncio.run(export_records(store, domain, start, end))


# --------------------------------------------------------------------------- the records


def test_every_user_message_comes_out_masked_in_conversation_and_time_order(endpoints, domain):
    records = export(endpoints, domain)

    assert [(r["conversation"], r["turn"]) for r in records] == [
        (pseudonym(EARLY_SENDER), 0),
        *[(pseudonym(PHONE_SENDER), turn) for turn in range(5)],
        (pseudonym(LATE_SENDER), 0), (pseudonym(LATE_SENDER), 1)]
    phone = [r for r in records if r["conversation"] == pseudonym(PHONE_SENDER)]
    assert phone[1]["text"] == "我叫***，台灯灯罩裂了，订单***"
    assert phone[2]["text"] == '/inform{"order_id":"***"}' and phone[2]["payload"] is True
    assert "payload" not in phone[1]
    assert phone[3]["text"] == "寄到***，电话***，收件人***"
    assert records[-1]["text"] == "*先生说还没到"
    exported = json.dumps(records, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in exported


def test_records_carry_intent_confidence_and_what_the_bot_did_next(endpoints, domain):
    records = export(endpoints, domain)
    by_text = {r["text"]: r for r in records}

    greet = by_text["你好"]
    assert (greet["intent"], greet["confidence"], greet["next_action"]) == ("greet", 0.98, "utter_greet")
    assert greet["escalated"] is True and greet["escalated_next"] is False
    assert by_text["我叫***，台灯灯罩裂了，订单***"]["next_action"] == "complaint_form"
    # Only action_listen followed: the bot said nothing before the next message.
    assert by_text["寄到***，电话***，收件人***"]["next_action"] is None
    human = by_text["转人工"]
    assert (human["next_action"], human["escalated"], human["escalated_next"]) == (
        "action_escalate", True, True)
    assert human["time"] == "2026-12-02T09:00:00+08:00" and human["channel"] == "rest"
    assert human["timestamp"] == at("2026-12-02 09:00:00")

    late = by_text["快递三天没动"]
    assert late["next_action"] == "utter_empathy_logistics" and late["channel"] == "app"
    assert late["escalated"] is False and late["escalated_next"] is False
    unparsed = by_text["在吗"]
    assert (unparsed["intent"], unparsed["confidence"], unparsed["channel"]) == (None, None, None)
    assert unparsed["next_action"] is None


def test_the_range_is_days_in_shanghai_from_inclusive_to_exclusive(endpoints, domain):
    records = export(endpoints, domain, date(2026, 12, 1), date(2026, 12, 3))
    assert [r["text"] for r in records][-1] == "快递三天没动"
    assert len(records) == 6 and "在吗" not in [r["text"] for r in records]

    later = export(endpoints, domain, start=date(2026, 12, 2))
    # Turn numbers stay those of the whole conversation.
    assert [(r["text"], r["turn"]) for r in later] == [
        ("转人工", 4), ("快递三天没动", 0), ("*先生说还没到", 1)]
    assert [r["text"] for r in export(endpoints, domain, end=date(2026, 12, 1))] == ["在吗"]


def test_the_sender_id_never_appears_in_the_output(endpoints, domain, tmp_path):
    out = tmp_path / "export.jsonl"
    assert write_jsonl(export(endpoints, domain), out) == 8
    text = out.read_text(encoding="utf-8")
    for sender in SENDERS:
        assert sender not in text
    assert pseudonym(PHONE_SENDER).startswith("c-") and len(pseudonym(PHONE_SENDER)) == 14


def test_escalation_is_tied_to_the_message_it_followed():
    events = [user("灯罩裂了", "2026-12-01 10:00:00", "complain_quality", 0.9),
              action("action_listen", "2026-12-01 10:00:01"),
              user("好的", "2026-12-01 10:01:00", "affirm", 0.8),
              action("utter_ask_photo", "2026-12-01 10:01:01"),
              action("action_escalate", "2026-12-01 10:01:02")]
    first, second = records_from_events("s", events)
    assert (first["next_action"], first["escalated_next"], first["escalated"]) == (None, False, True)
    assert (second["next_action"], second["escalated_next"]) == ("utter_ask_photo", True)


# --------------------------------------------------------------------------- the command


def test_the_command_writes_the_file_and_says_how_much(endpoints, tmp_path, capsys):
    out = tmp_path / "trainer" / "export.jsonl"
    code = cli(["--endpoints", str(endpoints), "--domain", str(ROOT / "domain.yml"),
                "--from", "2026-12-01", "--to", "2026-12-03", "--out", str(out)])
    assert code == 0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 6 and lines[0]["time"] == "2026-12-01T10:00:01+08:00"
    said = capsys.readouterr().out
    assert "6 messages" in said and "2 conversations" in said


@pytest.mark.parametrize("argv, named", [
    (["--from", "2026-13-01"], "YYYY-MM-DD"),
    (["--to", "12/03/2026"], "YYYY-MM-DD"),
    (["--from", "2026-12-03", "--to", "2026-12-01"], "must be before"),
    (["--endpoints", "no/such/endpoints.yml"], "not found"),
])
def test_a_bad_date_or_a_missing_endpoints_file_is_a_usage_error(argv, named, tmp_path, capsys):
    assert cli([*argv, "--domain", str(ROOT / "domain.yml"), "--out", str(tmp_path / "x.jsonl")]) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_a_missing_sqlite_tracker_database_is_named_not_created(tmp_path, capsys):
    endpoints_path = tmp_path / "endpoints.yml"
    db = tmp_path / "nothing-here.db"
    endpoints_path.write_text(f'tracker_store:\n  type: SQL\n  dialect: sqlite\n  db: "{db}"\n',
                              encoding="utf-8")
    assert cli(["--endpoints", str(endpoints_path), "--domain", str(ROOT / "domain.yml"),
                "--out", str(tmp_path / "x.jsonl")]) == 2
    assert str(db) in capsys.readouterr().err and not db.exists()
