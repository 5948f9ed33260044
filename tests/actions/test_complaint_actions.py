"""action_acknowledge_complaint against trackers shaped like the Rasa server sends them."""
import asyncio
import re

import pytest

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.complaints import ActionAcknowledgeComplaint
from actions.intake_form import ActionAskOrderId, ValidateComplaintForm
from actions.services import case_store
from tests.actions.conftest import make_tracker, run_action, slot_values


def tracker_for(text, intent, entities=(), slots=None):
    return Tracker.from_dict({
        "sender_id": "shopper-1",
        "slots": slots or {},
        "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.98},
                           "entities": list(entities)},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    })


def run(tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAcknowledgeComplaint().run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def assert_acknowledges_without_asking_for_the_order(text):
    """Empathy, then what happens next and by when; the form asks for the order later."""
    assert "已收到" in text
    empathy = text[:text.index("已收到")]
    assert empathy.endswith("。") and len(empathy) > 5
    assert re.search(r"\d+小时内", text[text.index("已收到"):])
    assert "订单号" not in text


def test_quality_complaint_is_acknowledged_with_the_product_and_category_recorded():
    messages, events = run(tracker_for(
        "买的连衣裙开线了", "complain_quality",
        [{"entity": "product", "value": "连衣裙"}, {"entity": "defect", "value": "开线"}]))
    assert len(messages) == 1
    assert "连衣裙" in messages[0]["text"]
    assert_acknowledges_without_asking_for_the_order(messages[0]["text"])
    assert SlotSet("complaint_category", "quality") in events


def test_the_complaint_forms_question_asks_for_the_order_number(domain):
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAskOrderId().run(dispatcher, tracker_for("买的连衣裙开线了", "complain_quality"),
                                       domain))
    assert len(dispatcher.messages) == 1
    assert "订单号" in dispatcher.messages[0]["text"]
    assert "19位数字" in dispatcher.messages[0]["text"]


def test_traditional_text_still_reveals_the_situation():
    messages, _ = run(tracker_for("送給女朋友的生日禮物還沒到", "complain_logistics"))
    assert "送人" in messages[0]["text"] or "礼物" in messages[0]["text"]


def test_a_known_order_number_is_not_asked_for_again(domain):
    tracker = tracker_for("赠品没收到", "complain_transaction",
                          slots={"order_id": "6917382940182736451"})
    messages, events = run(tracker)
    assert_acknowledges_without_asking_for_the_order(messages[0]["text"])
    assert "6917382940182736451" not in messages[0]["text"]
    assert "order_id" not in [e["name"] for e in events]
    # The form then skips the order number: the next question is the remedy.
    after = tracker.copy()
    after.add_slots(events)
    dispatcher = CollectingDispatcher()
    next_slot = asyncio.run(ValidateComplaintForm().next_requested_slot(dispatcher, after, domain))
    assert next_slot == SlotSet("requested_slot", "remedy")


@pytest.mark.parametrize("text, intent, asks_order", [
    ("还有 快递员态度太差了 直接扔门口", "complain_logistics", True),  # another matter
    ("杯子还是漏 换了个新的也一样", "complain_quality", False),  # the same one goes on
    ("还有 订单6917382940182736451的快递也没到", "complain_logistics", False),  # named now
])
def test_a_second_complaint_in_another_category_asks_which_order_it_is_about(domain, text, intent, asks_order):
    case, _ = case_store().open_case(
        request_key=f"second-{intent}-{asks_order}", shopper_id="shopper-1", channel="rest",
        category="quality", severity=3, description="杯子漏水", order_id="6917382940182736451")
    entities = [{"entity": "order_id", "value": "6917382940182736451"}] if "订单" in text else []
    slots = {"current_case_id": case.id, "order_id": "6917382940182736451", "order_verified": True}
    tracker = tracker_for(text, intent, entities=entities, slots=slots)
    _, events = run(tracker)
    tracker.add_slots(events)
    dispatcher = CollectingDispatcher()
    next_slot = asyncio.run(ValidateComplaintForm().next_requested_slot(dispatcher, tracker, domain))
    assert (next_slot == SlotSet("requested_slot", "order_id")) is asks_order
    assert {e["name"]: e["value"] for e in events}.get("order_id", "kept") == (None if asks_order else "kept")


def test_a_category_button_payload_is_acknowledged_without_reading_it_as_words():
    messages, events = run(tracker_for("/complain_service", "complain_service"))
    assert_acknowledges_without_asking_for_the_order(messages[0]["text"])
    assert SlotSet("complaint_category", "service") in events
    assert SlotSet("description", None) in events


def test_a_non_complaint_intent_gets_the_category_question():
    messages, events = run(tracker_for("嗯", "greet"))
    assert messages[0]["response"] == "utter_ask_clarify"
    assert events == []


def slots_set(events):
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def test_product_and_defect_come_from_this_message_only():
    # An earlier complaint about a dress left its product and defect in the slots.
    earlier = {"product": "连衣裙", "defect": "开线", "complaint_category": None}

    messages, events = run(tracker_for("快递三天没动了", "complain_logistics", slots=earlier))

    slots = slots_set(events)
    assert "product" in slots and slots["product"] is None
    assert "defect" in slots and slots["defect"] is None
    assert "连衣裙" not in messages[0]["text"]


def test_product_and_defect_of_a_new_complaint_replace_the_earlier_ones():
    earlier = {"product": "连衣裙", "defect": "开线"}

    _, events = run(tracker_for(
        "杯子裂了", "complain_quality",
        [{"entity": "product", "value": "杯子"}, {"entity": "defect", "value": "裂"}],
        slots=earlier))

    slots = slots_set(events)
    assert slots["product"] == "杯子"
    assert slots["defect"] == "裂"


def test_a_safety_complaint_opens_a_case_for_a_person_at_once(domain):
    tracker = make_tracker("充电宝充电的时候冒烟了", "complain_quality",
                           sender_id="shopper-smoke", message_id="m-smoke")
    messages, events = run_action(ActionAcknowledgeComplaint(), tracker, domain)
    cases = case_store().cases_of("shopper-smoke")
    assert len(cases) == 1
    case = cases[0]
    assert case.severity == 1 and case.needs_human and case.needs_human_reason == "severity_1"
    assert case.id in messages[0]["text"] and "2小时内联系您" in messages[0]["text"]
    assert slot_values(events)["current_case_id"] == case.id


def test_a_plain_complaint_opens_no_case_before_the_form(domain):
    tracker = make_tracker("连衣裙开线了", "complain_quality", sender_id="shopper-thread")
    run_action(ActionAcknowledgeComplaint(), tracker, domain)
    assert case_store().cases_of("shopper-thread") == []
