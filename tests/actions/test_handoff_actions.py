"""Handing a conversation to a person (转人工) as the action server runs it: action_escalate
queues the conversation and pauses the bot; the actions before it (acknowledging a
complaint, opening the case, not understanding a message) decide when it must run.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import pytest

from actions import services
from actions.cases import ActionOpenCase
from actions.complaints import ActionAcknowledgeComplaint
from actions.handoff import ActionEscalate, ActionNotUnderstood
from actions.session import ActionSessionStart
from bot.cases.sla import service_levels
from bot.handoff import handoff_rules
from bot.policy.severity import grade
from bot.replies.case_replies import when
from tests.actions.conftest import (FORM, SHOPPER, SHOPPER_ORDER, action_event, make_tracker,
                                    run_action, slot_event, slot_values, texts, user_event)

GROWTH_SHOPPER, GROWTH_ORDER = "e2e-shopper-3", "6948310179007151075"
REGULAR_SHOPPER = "demo-tingting"
ZIPPER_BROKEN = "裙子拉链坏了，完全拉不上"  # severity 2 (unusable)
PHOTO = {"sha256": "c" * 64, "filename": "c" * 64 + ".jpg", "format": "JPEG",
         "width": 64, "height": 48, "size": 2048}
QUEUED = "已为您转接人工客服"
ALREADY_QUEUED = "您的会话已在人工客服队列中"


# --------------------------------------------------------------------------- helpers


def hours() -> float:
    return service_levels().first_response_hours


def ask_for_person(sender_id: str = SHOPPER):
    return make_tracker("我要找人工客服", "request_human", sender_id=sender_id)


def mid_form_tracker(description: str = "连衣裙开线了，裙摆开了一大截"):
    """The shopper told a complaint, gave the order and a photo, then asks for a person
    while the form asks for the remedy."""
    slots = {"complaint_category": "quality", "description": description,
             "order_id": SHOPPER_ORDER, "order_verified": True, "photos": [PHOTO],
             "photo_evidence": "received", "severity": 3.0, "requested_slot": "remedy"}
    events = [
        action_event("action_listen"),
        user_event(description, "complain_quality", "m-1"),
        action_event("action_acknowledge_complaint"),
        slot_event("complaint_category", "quality"),
        action_event(FORM),
        action_event("action_listen"),
        user_event(SHOPPER_ORDER, "give_order_id", "m-2"),
        action_event(FORM),
        action_event("action_listen"),
        user_event("转人工", "request_human", "m-3"),
    ]
    return make_tracker("转人工", "request_human", slots=slots, events=events,
                        active_loop={"name": FORM}, message_id="m-3")


def finished_form(sender_id: str, order_id: str, description: str, severity: float):
    """The tracker when the complaint form has just been completed."""
    slots = {"complaint_category": "quality", "description": description,
             "order_id": order_id, "order_verified": True, "photos": [PHOTO],
             "photo_evidence": "received", "remedy": "exchange", "severity": severity}
    events = [
        action_event("action_listen"),
        user_event(description, "complain_quality", "m-1"),
        action_event("action_acknowledge_complaint"),
        action_event(FORM),
        action_event("action_listen"),
        user_event(order_id, "give_order_id", "m-2"),
        action_event(FORM),
        slot_event("requested_slot", None),
    ]
    return make_tracker(order_id, "give_order_id", sender_id=sender_id, slots=slots,
                        events=events, message_id="m-2", latest_action_name=FORM)


def fallback_tracker(events: List[Dict[str, Any]], text: str = "啊啊啊？？"):
    """Earlier `events`, then a message NLU could not place (the latest)."""
    latest = user_event(text, "nlu_fallback", "m-last")
    return make_tracker(text, "nlu_fallback", sender_id=REGULAR_SHOPPER,
                        events=[*events, action_event("action_listen"), latest],
                        message_id="m-last")


def missed(text: str = "嗯嗯那个东西", message_id: str = "m-miss") -> List[Dict[str, Any]]:
    """A message not understood, answered by action_not_understood + the clarify question."""
    return [action_event("action_listen"), user_event(text, "nlu_fallback", message_id),
            action_event("action_not_understood"), action_event("utter_ask_clarify")]


def handoff_slots(events) -> Dict[str, Optional[Any]]:
    values = slot_values(events)
    return {name: values.get(name) for name in ("handoff_reason", "handoff_due")}


NO_HANDOFF = {"handoff_reason": None, "handoff_due": None}


# --------------------------------------------------------------------------- action_escalate


def test_asking_for_a_person_without_a_complaint_queues_the_conversation(store, domain):
    messages, events = run_action(ActionEscalate(), ask_for_person(), domain)

    handoff = services.handoff_queue().open_for(SHOPPER)
    assert handoff is not None and handoff.state == "waiting"
    assert handoff.case_id is None and handoff.reason == "asked_for_person"
    assert handoff.tier == "loyal"
    assert store.cases_of(SHOPPER) == []

    said = texts(messages)
    assert QUEUED in said
    assert f"预计{handoff_rules().expected_wait_minutes(0, hours())}分钟内" in said
    assert when(handoff.first_response_due) in said
    assert "案件号" not in said and "前面还有" not in said

    assert [e["event"] for e in events[-3:]] == ["active_loop", "pause", "action"]
    assert events[-3]["name"] is None and events[-1]["name"] == "action_listen"
    values = slot_values(events)
    assert "handoff_reason" in values and "handoff_due" in values
    assert handoff_slots(events) == NO_HANDOFF


def test_asking_for_a_person_mid_form_opens_the_case_with_what_was_told(store, domain):
    tracker = mid_form_tracker()

    messages, events = run_action(ActionEscalate(), tracker, domain)

    [case] = store.cases_of(SHOPPER)
    assert case.order_id == SHOPPER_ORDER
    assert case.description == "连衣裙开线了，裙摆开了一大截"
    assert case.category == "quality"
    assert [p["sha256"] for p in case.photos] == [PHOTO["sha256"]]
    assert case.status == "escalated"
    assert case.needs_human is True and case.needs_human_reason == "asked_for_person"
    assert services.handoff_queue().open_for(SHOPPER).case_id == case.id

    said = texts(messages)
    assert case.id in said and QUEUED in said

    values = slot_values(events)
    assert values["current_case_id"] == case.id
    for slot in ("complaint_category", "description", "photos", "photo_evidence",
                 "severity", "requested_slot"):
        assert values[slot] is None, slot
    assert "order_id" not in values  # the order number is kept for what follows
    assert [e["event"] for e in events[-3:]] == ["active_loop", "pause", "action"]


def test_asking_again_does_not_queue_the_conversation_twice(domain):
    tracker = ask_for_person()
    run_action(ActionEscalate(), tracker, domain)
    first = services.handoff_queue().open_for(SHOPPER)

    messages, events = run_action(ActionEscalate(), tracker, domain)

    said = texts(messages)
    assert ALREADY_QUEUED in said and "预计" not in said
    queue = services.handoff_queue().open_queue()
    assert [h.id for h in queue if h.sender_id == SHOPPER] == [first.id]
    assert [e["event"] for e in events[-2:]] == ["pause", "action"]


def test_the_reply_counts_the_conversations_ahead_and_the_longer_wait(domain):
    queue = services.handoff_queue()
    for sender in ("urgent-1", "urgent-2"):
        queue.escalate(sender, "rest", "severity_1", severity=1, tier="regular",
                       first_response_hours=hours())
    # Less urgent than a loyal shopper with no case (severity 3): not ahead.
    queue.escalate("later-1", "rest", "asked_for_person", severity=3, tier="regular",
                   first_response_hours=hours())

    messages, _ = run_action(ActionEscalate(), ask_for_person(), domain)

    said = texts(messages)
    rules = handoff_rules()
    assert "前面还有2位顾客" in said
    wait = rules.expected_wait_minutes(2, hours())
    assert wait > rules.expected_wait_minutes(0, hours())
    assert f"预计{wait}分钟内" in said


# --------------------------------------------------------------------------- triggers


@pytest.mark.parametrize("text, intent, reason", [
    ("充电宝充电的时候冒烟了", "complain_quality", "severity_1"),
    ("再不处理我就去12315投诉", "complain_service", "public_threat"),
])
def test_a_safety_or_public_threat_complaint_is_due_for_a_person(text, intent, reason, domain):
    tracker = make_tracker(text, intent, sender_id=REGULAR_SHOPPER)

    _, events = run_action(ActionAcknowledgeComplaint(), tracker, domain)

    assert handoff_slots(events) == {"handoff_reason": reason, "handoff_due": True}


def test_a_plain_complaint_is_not_due_for_a_person(domain):
    tracker = make_tracker("连衣裙开线了", "complain_quality", sender_id=REGULAR_SHOPPER)

    _, events = run_action(ActionAcknowledgeComplaint(), tracker, domain)

    assert handoff_slots(events) == NO_HANDOFF


def test_a_loyal_shopper_with_a_severity_2_problem_is_due_for_a_person(store, domain):
    order = services.owned_order(SHOPPER_ORDER, SHOPPER)
    assert order.tier == "loyal"
    assert grade("quality", ZIPPER_BROKEN, [], order).level == 2

    _, events = run_action(ActionOpenCase(),
                           finished_form(SHOPPER, SHOPPER_ORDER, ZIPPER_BROKEN, 2.0), domain)

    assert handoff_slots(events) == {"handoff_reason": "loyal_severity_2", "handoff_due": True}
    case = store.get(slot_values(events)["current_case_id"])
    assert case.needs_human and case.needs_human_reason == "loyal_severity_2"


def test_a_growth_shopper_with_a_severity_2_problem_stays_with_the_bot(store, domain):
    order = services.owned_order(GROWTH_ORDER, GROWTH_SHOPPER)
    assert order.tier == "growth"
    assert grade("quality", ZIPPER_BROKEN, [], order).level == 2

    _, events = run_action(ActionOpenCase(),
                           finished_form(GROWTH_SHOPPER, GROWTH_ORDER, ZIPPER_BROKEN, 2.0), domain)

    assert handoff_slots(events) == NO_HANDOFF
    case = store.get(slot_values(events)["current_case_id"])
    assert case.severity == 2 and not case.needs_human


# --------------------------------------------------------------------------- not understood


def test_the_threshold_in_the_shipped_rules_is_two():
    assert handoff_rules().not_understood_in_a_row == 2


def test_the_first_message_not_understood_only_asks_to_clarify(domain):
    _, events = run_action(ActionNotUnderstood(), fallback_tracker([]), domain)
    assert events == []


def test_the_second_message_not_understood_in_a_row_goes_to_a_person(domain):
    _, events = run_action(ActionNotUnderstood(), fallback_tracker(missed()), domain)
    assert handoff_slots(events) == {"handoff_reason": "not_understood", "handoff_due": True}


def test_a_photo_the_form_answered_is_not_a_miss(domain):
    photo_in_form = [action_event("action_listen"),
                     user_event("[图片]", "nlu_fallback", "m-photo"), action_event(FORM)]

    _, events = run_action(ActionNotUnderstood(), fallback_tracker(photo_in_form), domain)

    assert events == []


def test_photos_in_the_form_after_an_earlier_miss_do_not_add_up(domain):
    # miss, a category button, the form, two photos the form answered, then a miss.
    history = [*missed(), action_event("action_listen"),
               user_event("/complain_quality", "complain_quality", "m-button"),
               action_event("action_acknowledge_complaint"), action_event(FORM)]
    for n in range(2):
        history += [action_event("action_listen"),
                    user_event("[图片]", "nlu_fallback", f"m-photo-{n}"), action_event(FORM)]

    _, events = run_action(ActionNotUnderstood(), fallback_tracker(history), domain)

    assert events == []


def test_an_understood_message_in_between_resets_the_count(domain):
    history = [*missed(), action_event("action_listen"),
               user_event("我要投诉", "complain_quality", "m-ok"),
               action_event("action_acknowledge_complaint")]

    _, events = run_action(ActionNotUnderstood(), fallback_tracker(history), domain)

    assert events == []


# --------------------------------------------------------------------------- new session


def test_a_new_session_stays_paused_while_an_agent_has_the_conversation(domain):
    # A shopper waiting for a person writes again after the session expired: Rasa's
    # reset would un-pause the bot; the session must start paused again.
    run_action(ActionEscalate(), ask_for_person(REGULAR_SHOPPER), domain)
    tracker = make_tracker("还在吗", "greet", sender_id=REGULAR_SHOPPER,
                           slots={"current_case_id": "SH20261201-0001"})

    _, events = run_action(ActionSessionStart(), tracker, domain)

    names = [e["event"] for e in events]
    assert names[0] == "session_started" and names[-1] == "action"
    assert "pause" in names
    assert slot_values(events)["current_case_id"] == "SH20261201-0001"  # carried over


def test_a_new_session_without_an_open_handoff_is_not_paused(domain):
    _, events = run_action(ActionSessionStart(), make_tracker("你好", "greet", sender_id=REGULAR_SHOPPER),
                           domain)
    assert "pause" not in [e["event"] for e in events]
