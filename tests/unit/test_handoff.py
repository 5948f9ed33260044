"""Handing a conversation to a person (转人工): the rules in bot/policy/handoff.yml, and
the agent queue on both databases (a SQLite file and a real PostgreSQL, see conftest.py).
"""
import re
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.cases import CaseNotFound, CaseStore
from bot.handoff.queue import HandoffConflict, HandoffNotFound, HandoffQueue
from bot.handoff.rules import HANDOFF_FILE, load_handoff_rules
from bot.policy.errors import PolicyConfigError
from bot.policy.location import SHIPPED

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2024, 3, 1, 12, 0, tzinfo=SHANGHAI)
HOURS = 2  # first human response after escalation (PRODUCT.md)
SHIPPED_FILE = SHIPPED / HANDOFF_FILE


def minutes(n: int) -> datetime:
    return NOON + timedelta(minutes=n)


@pytest.fixture(scope="module")
def rules():
    return load_handoff_rules(SHIPPED_FILE)


def policy_copy(tmp_path, pattern: str, replacement: str):
    """The shipped handoff.yml with the first match of `pattern` (a regex) replaced."""
    text, count = re.subn(pattern, replacement, SHIPPED_FILE.read_text(encoding="utf-8"),
                          count=1, flags=re.M)
    assert count == 1, f"{pattern!r} not in the shipped file"
    path = tmp_path / HANDOFF_FILE
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path, pattern: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if re.match(pattern, line))


# ---------------------------------------------------------------- rules: priority


def test_the_shipped_tier_order_is_loyal_growth_dormant_regular(rules):
    assert rules.tier_order == ("loyal", "growth", "dormant", "regular")


def test_severity_comes_first_then_tier_with_an_unknown_tier_last(rules):
    ranked = [(1, "loyal"), (1, "regular"), (1, None),
              (2, "loyal"), (2, "growth"), (2, "dormant"), (2, "regular"), (2, None),
              (3, "loyal"), (3, "regular"), (3, "vip")]
    priorities = [rules.priority(severity, tier) for severity, tier in ranked]
    assert all(a < b for a, b in zip(priorities, priorities[1:])), list(zip(ranked, priorities))
    assert rules.priority(2, "vip") == rules.priority(2, None)
    with pytest.raises(ValueError):
        rules.priority(4, "loyal")


def test_the_tier_order_is_the_one_configured(tmp_path):
    path = policy_copy(tmp_path, r"tier_order: \[loyal, growth, dormant, regular\]",
                       "tier_order: [regular, dormant]")
    custom = load_handoff_rules(path)
    regular, dormant, loyal = (custom.priority(2, tier) for tier in ("regular", "dormant", "loyal"))
    assert regular < dormant < loyal
    assert custom.priority(2, "loyal") == custom.priority(2, None)  # not listed: last
    assert custom.priority(1, None) < custom.priority(2, "regular")


# ---------------------------------------------------------------- rules: triggers


@pytest.mark.parametrize("severity,tier,public,reason", [
    (1, "regular", False, "severity_1"),
    (1, None, False, "severity_1"),
    (3, "regular", True, "public_threat"),
    (2, "loyal", True, "public_threat"),
    (2, "loyal", False, "loyal_severity_2"),
    (2, "growth", False, None),
    (2, None, False, None),
    (3, "loyal", False, None),
    (3, "regular", False, None),
])
def test_trigger(rules, severity, tier, public, reason):
    assert rules.trigger(severity, tier, public_threat=public) == reason


# ---------------------------------------------------------------- rules: expected wait


def test_expected_wait_grows_with_the_queue_is_shared_by_agents_and_capped(rules):
    assert (rules.minutes_per_conversation, rules.agents_on_duty) == (8, 2)
    waits = [rules.expected_wait_minutes(ahead, HOURS) for ahead in range(6)]
    assert waits == [8, 8, 16, 16, 24, 24]  # two agents take two conversations a round
    alone = replace(rules, agents_on_duty=1)
    assert [alone.expected_wait_minutes(ahead, HOURS) for ahead in range(3)] == [8, 16, 24]
    four = replace(rules, agents_on_duty=4)
    assert four.expected_wait_minutes(3, HOURS) == 8
    assert four.expected_wait_minutes(4, HOURS) == 16
    assert rules.expected_wait_minutes(1000, HOURS) == HOURS * 60
    assert rules.expected_wait_minutes(1000, 0.5) == 30
    with pytest.raises(ValueError):
        rules.expected_wait_minutes(-1, HOURS)


def test_say_fills_the_placeholders(rules):
    case = rules.say("case", case_id="SH20240301-0007")
    assert "SH20240301-0007" in case
    queued = rules.say("queued", case=case, ahead=3, minutes=16, due="14:00")
    assert all(part in queued for part in (case, "3位", "16分钟", "14:00"))
    assert "{" not in queued and "}" not in queued
    assert "小王" in rules.say("agent_took", agent="小王")


# ---------------------------------------------------------------- rules: a bad file


@pytest.mark.parametrize("pattern,replacement,key,line_pattern,words", [
    (r"agents_on_duty: 2", "agents_on_duty: 0",
     "wait.agents_on_duty", r"\s+agents_on_duty:", "between 1 and"),
    (r"tier_order: \[loyal, growth, dormant, regular\]",
     "tier_order: [loyal, growth, vip, regular]",
     "priority.tier_order[2]", r"\s+tier_order:", "'vip'"),
    (r"^  over_cap:\n(?:    .*\n)+", "",
     "reasons", r"reasons:", "missing key 'over_cap'"),
    (r"^  agent_took: .*\n", "",
     "replies", r"replies:", "missing key 'agent_took'"),
], ids=["no_agents", "unknown_tier", "missing_reason", "missing_reply"])
def test_a_bad_handoff_file_names_the_key_and_the_line(tmp_path, pattern, replacement, key,
                                                       line_pattern, words):
    path = policy_copy(tmp_path, pattern, replacement)
    with pytest.raises(PolicyConfigError) as raised:
        load_handoff_rules(path)
    message = str(raised.value)
    assert str(path) in message
    assert f"{key} (line {line_of(path, line_pattern)})" in message, message
    assert words in message


# ---------------------------------------------------------------- the queue (both databases)


@pytest.fixture
def store(db_url):
    with CaseStore(db_url) as case_store:
        yield case_store


@pytest.fixture
def queue(store):
    return HandoffQueue(store)


def open_case(store, shopper="shopper-1", severity=2) -> str:
    case, created = store.open_case(request_key=f"req-{uuid.uuid4().hex}", shopper_id=shopper,
                                    channel="rest", category="quality", severity=severity,
                                    description="连衣裙开线了", order_id=None, now=NOON)
    assert created
    return case.id


def escalate(queue, sender, severity=2, tier="regular", case_id=None, at=NOON,
             reason="asked_for_person"):
    return queue.escalate(sender, "rest", reason, severity, tier, HOURS, case_id, now=at)


def history(store, case_id):
    return [(event.kind, event.actor) for event in store.get(case_id).events]


def test_escalating_queues_the_conversation_and_marks_the_case(store, queue):
    case_id = open_case(store)
    handoff, created = escalate(queue, "shopper-1", case_id=case_id, reason="declined_twice")
    assert created
    assert (handoff.state, handoff.case_id, handoff.reason) == (
        "waiting", case_id, "declined_twice")
    assert handoff.priority == queue.rules.priority(2, "regular")
    assert handoff.escalated_at == NOON
    assert handoff.first_response_due == NOON + timedelta(hours=HOURS)
    case = store.get(case_id)
    assert (case.status, case.needs_human, case.needs_human_reason) == (
        "escalated", True, "declined_twice")
    escalated = [event for event in case.events if event.kind == "escalated"]
    assert len(escalated) == 1 and escalated[0].data["handoff_id"] == handoff.id
    assert queue.open_for("shopper-1") == handoff
    assert queue.open_queue() == [handoff]


def test_escalating_again_keeps_one_handoff_with_the_more_urgent_priority(store, queue):
    case_id = open_case(store)
    first, _ = escalate(queue, "shopper-1", severity=3, case_id=case_id)
    urgent, created = escalate(queue, "shopper-1", severity=1, case_id=case_id,
                               reason="severity_1", at=minutes(5))
    assert not created and urgent.id == first.id
    assert (urgent.priority, urgent.severity, urgent.reason) == (
        queue.rules.priority(1, "regular"), 1, "severity_1")
    calmer, created = escalate(queue, "shopper-1", severity=3, case_id=case_id, at=minutes(10))
    assert not created and calmer.id == first.id
    assert (calmer.priority, calmer.reason) == (urgent.priority, "severity_1")
    assert calmer.escalated_at == NOON  # the wait counts from the first escalation
    assert [handoff.id for handoff in queue.open_queue()] == [first.id]
    assert history(store, case_id).count(("escalated", "bot")) == 1


def test_the_queue_is_ordered_by_priority_then_escalation_time(queue):
    escalate(queue, "minor", severity=3, at=minutes(0))
    escalate(queue, "later", severity=2, at=minutes(2))  # stored before `earlier`
    escalate(queue, "earlier", severity=2, at=minutes(1))
    escalate(queue, "urgent", severity=1, at=minutes(3))
    escalate(queue, "loyal", severity=2, tier="loyal", at=minutes(4))
    order = [handoff.sender_id for handoff in queue.open_queue()]
    assert order == ["urgent", "loyal", "earlier", "later", "minor"]


def test_ahead_of_counts_only_waiting_conversations_before_it(queue):
    first, _ = escalate(queue, "first", severity=2, at=minutes(0))
    second, _ = escalate(queue, "second", severity=2, at=minutes(1))
    urgent, _ = escalate(queue, "urgent", severity=1, at=minutes(3))
    escalate(queue, "minor", severity=3, at=minutes(2))
    mine, _ = escalate(queue, "mine", severity=2, at=minutes(5))
    assert queue.ahead_of(mine) == 3
    assert queue.ahead_of(urgent) == 0
    queue.take(first.id, "agent-1", now=minutes(6))
    assert queue.ahead_of(mine) == 2  # taken: no longer waiting
    queue.take(second.id, "agent-2", now=minutes(6))
    queue.hand_back(second.id, "agent-2", now=minutes(7))
    assert queue.ahead_of(mine) == 1  # returned: not waiting either


def test_a_handoff_without_a_case_works_and_gains_the_case_later(store, queue):
    handoff, created = escalate(queue, "shopper-1", severity=3, tier=None)
    assert created and handoff.case_id is None and handoff.state == "waiting"
    assert queue.take(handoff.id, "agent-1", now=minutes(1)).taken_by == "agent-1"
    replied = queue.record(handoff.id, "agent-1", "agent_reply", {"text": "您好"}, reply=True,
                           now=minutes(2))
    assert replied.first_reply_at == minutes(2)
    case_id = open_case(store)
    joined, created = escalate(queue, "shopper-1", severity=2, case_id=case_id, at=minutes(3))
    assert not created and joined.id == handoff.id and joined.case_id == case_id
    assert store.get(case_id).status == "escalated"
    assert queue.hand_back(handoff.id, "agent-1", now=minutes(4)).state == "returned"


def test_escalating_with_an_unknown_case_queues_nothing(queue):
    with pytest.raises(CaseNotFound):
        escalate(queue, "shopper-1", case_id="SH20240301-9999")
    assert queue.open_for("shopper-1") is None


def test_take_assigns_the_agent_once_and_refuses_a_second_agent(store, queue):
    case_id = open_case(store)
    handoff, _ = escalate(queue, "shopper-1", case_id=case_id)
    taken = queue.take(handoff.id, "agent-1", now=minutes(10))
    assert (taken.state, taken.taken_by, taken.taken_at) == ("taken", "agent-1", minutes(10))
    assert ("agent_took", "agent-1") in history(store, case_id)
    again = queue.take(handoff.id, "agent-1", now=minutes(20))
    assert again.taken_at == minutes(10)
    assert history(store, case_id).count(("agent_took", "agent-1")) == 1
    with pytest.raises(HandoffConflict):
        queue.take(handoff.id, "agent-2", now=minutes(21))
    assert queue.get(handoff.id).taken_by == "agent-1"


def test_the_first_reply_is_recorded_once_and_only_by_the_agent_in_charge(store, queue):
    case_id = open_case(store)
    handoff, _ = escalate(queue, "shopper-1", case_id=case_id)
    with pytest.raises(HandoffConflict):  # nobody has taken it yet
        queue.record(handoff.id, "agent-1", "agent_reply", {"text": "您好"}, reply=True)
    queue.take(handoff.id, "agent-1", now=minutes(10))
    with pytest.raises(HandoffConflict):
        queue.record(handoff.id, "agent-2", "agent_reply", {"text": "您好"}, reply=True,
                     now=minutes(12))
    assert queue.get(handoff.id).first_reply_at is None
    first = queue.record(handoff.id, "agent-1", "agent_reply", {"text": "您好，我来处理"},
                         reply=True, now=minutes(15))
    second = queue.record(handoff.id, "agent-1", "agent_reply", {"text": "已为您补发"},
                          reply=True, now=minutes(30))
    assert first.first_reply_at == second.first_reply_at == minutes(15)
    replies = [event for event in store.get(case_id).events if event.kind == "agent_reply"]
    assert [(e.actor, e.data["text"], e.data["handoff_id"]) for e in replies] == [
        ("agent-1", "您好，我来处理", handoff.id),
        ("agent-1", "已为您补发", handoff.id)]


def test_hand_back_ends_the_handoff_and_reopens_the_case(store, queue):
    case_id = open_case(store)
    handoff, _ = escalate(queue, "shopper-1", case_id=case_id)
    queue.take(handoff.id, "agent-1", now=minutes(10))
    with pytest.raises(HandoffConflict):
        queue.hand_back(handoff.id, "agent-2", now=minutes(20))
    ended = queue.hand_back(handoff.id, "agent-1", now=minutes(40))
    assert (ended.state, ended.ended_by, ended.ended_at) == ("returned", "agent-1", minutes(40))
    assert queue.open_queue() == [] and queue.open_for("shopper-1") is None
    assert store.get(case_id).status == "open"
    assert ("handed_back", "agent-1") in history(store, case_id)
    with pytest.raises(HandoffConflict):
        queue.record(handoff.id, "agent-1", "note", {"text": "补充"})
    with pytest.raises(HandoffConflict):
        queue.take(handoff.id, "agent-1")

    again, created = escalate(queue, "shopper-1", case_id=case_id, at=minutes(60))
    assert created and again.id != handoff.id and again.state == "waiting"
    assert again.escalated_at == minutes(60)
    assert store.get(case_id).status == "escalated"
    assert history(store, case_id).count(("escalated", "bot")) == 2
    assert queue.latest_for("shopper-1").id == again.id


def test_hand_back_leaves_a_resolved_case_resolved(store, queue):
    case_id = open_case(store)
    handoff, _ = escalate(queue, "shopper-1", case_id=case_id)
    queue.take(handoff.id, "agent-1", now=minutes(10))
    store.set_status(case_id, "resolved", "agent-1", now=minutes(20))
    queue.hand_back(handoff.id, "agent-1", now=minutes(30))
    assert store.get(case_id).status == "resolved"


def test_sla_state_by_time_and_by_first_reply(queue):
    handoff, _ = escalate(queue, "shopper-1")  # first response due at 14:00
    stored = queue.get(handoff.id)
    assert stored.sla_state(minutes(60)) == "ok"
    assert stored.sla_state(minutes(95)) == "warning"  # three quarters of the time used
    assert stored.sla_state(minutes(121)) == "breached"
    queue.take(handoff.id, "agent-1", now=minutes(90))
    queue.record(handoff.id, "agent-1", "agent_reply", {"text": "您好"}, reply=True,
                 now=minutes(100))
    answered = queue.get(handoff.id)
    assert answered.sla_state(minutes(300)) == "met"
    assert answered.waiting_minutes(minutes(300)) == 100

    late, _ = escalate(queue, "shopper-2")
    queue.take(late.id, "agent-1", now=minutes(130))
    queue.record(late.id, "agent-1", "agent_reply", {"text": "您好"}, reply=True,
                 now=minutes(130))
    assert queue.get(late.id).sla_state(minutes(131)) == "breached"


def test_an_unknown_handoff_is_not_found(queue):
    for attempt in (lambda: queue.get(424242),
                    lambda: queue.take(424242, "agent-1"),
                    lambda: queue.record(424242, "agent-1", "note", {}),
                    lambda: queue.hand_back(424242, "agent-1")):
        with pytest.raises(HandoffNotFound):
            attempt()
