"""action_acknowledge_complaint against trackers shaped like the Rasa server sends them."""
import asyncio

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.complaints import ActionAcknowledgeComplaint


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


def test_quality_complaint_is_acknowledged_with_the_product_and_category_recorded():
    messages, events = run(tracker_for(
        "买的连衣裙开线了", "complain_quality",
        [{"entity": "product", "value": "连衣裙"}, {"entity": "defect", "value": "开线"}]))
    assert len(messages) == 1
    assert "连衣裙" in messages[0]["text"] and "订单号" in messages[0]["text"]
    assert SlotSet("complaint_category", "quality") in events


def test_traditional_text_still_reveals_the_situation():
    messages, _ = run(tracker_for("送給女朋友的生日禮物還沒到", "complain_logistics"))
    assert "送人" in messages[0]["text"] or "礼物" in messages[0]["text"]


def test_a_known_order_number_is_not_asked_for_again():
    messages, _ = run(tracker_for("赠品没收到", "complain_transaction",
                                  slots={"order_id": "6917382940182736451"}))
    assert "不用再发" in messages[0]["text"]
    assert "6917382940182736451" not in messages[0]["text"]


def test_a_category_button_payload_is_acknowledged_without_reading_it_as_words():
    messages, events = run(tracker_for("/complain_service", "complain_service"))
    assert "订单号" in messages[0]["text"]
    assert SlotSet("complaint_category", "service") in events


def test_a_non_complaint_intent_gets_the_category_question():
    messages, events = run(tracker_for("嗯", "greet"))
    assert messages[0]["response"] == "utter_ask_clarify"
    assert events == []
