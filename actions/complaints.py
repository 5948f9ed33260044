"""Acknowledge a complaint in its category, with empathy tied to the shopper's words."""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.categories import category_of_intent
from bot.nlu.text_normalizer import normalize_text
from bot.replies.acknowledgement import acknowledge


class ActionAcknowledgeComplaint(Action):
    def name(self) -> Text:
        return "action_acknowledge_complaint"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[EventType]:
        message = tracker.latest_message
        category = category_of_intent((message.get("intent") or {}).get("name"))
        if category is None:
            dispatcher.utter_message(response="utter_ask_clarify")
            return []
        text = message.get("text") or ""
        # A category button sends "/complain_x": no words of the shopper's to read.
        words = "" if text.startswith("/") else normalize_text(text)
        reply = acknowledge(
            category,
            words,
            product=next(tracker.get_latest_entity_values("product"), None),
            defect=next(tracker.get_latest_entity_values("defect"), None),
            has_order_id=bool(tracker.get_slot("order_id")),
        )
        dispatcher.utter_message(text=reply.text)
        return [SlotSet("complaint_category", category)]
