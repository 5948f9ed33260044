"""The satisfaction follow-up (回访): started by bot.followup through Rasa's HTTP API,
a 1–5 rating, and a reopened case when the shopper is not satisfied."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Dict, List, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.complaints import shopper_words
from actions.services import case_store, followup_store
from bot.intake import rating_of
from bot.replies.offer_replies import rating_buttons, say

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOW_RATING = 2  # 1–2 (or "不满意") reopens the case
ACTION_LISTEN = "action_listen"


class ActionStartFollowup(Action):
    """Run by bot.followup through Rasa's HTTP API (`/execute`) after it set
    `rating_case_id`: asks for the rating and opens the rating form, so the shopper's
    next message is read as their answer."""

    def name(self) -> Text:
        return "action_start_followup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        case_id = tracker.get_slot("rating_case_id")
        if not case_id:
            return []
        dispatcher.utter_message(text=say("ask_rating", case_id=case_id), buttons=rating_buttons())
        # Run through `/execute`, nothing listens afterwards unless we say so; the form
        # validates the next answer only when the turn before it ended in listening.
        return [SlotSet("rating", None), ActiveLoop("rating_form"), SlotSet("requested_slot", "rating"),
                ActionExecuted(ACTION_LISTEN)]


class ActionAskRating(Action):
    def name(self) -> Text:
        return "action_ask_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(text=say("ask_rating", case_id=tracker.get_slot("rating_case_id")),
                                 buttons=rating_buttons())
        return []


class ValidateRatingForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_rating_form"

    def validate_rating(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                        domain: DomainDict) -> Dict[Text, Any]:
        rating = rating_of(shopper_words(tracker) or str(value or ""))
        if rating is None:
            dispatcher.utter_message(text=say("ask_rating_again"))
            return {"rating": None}
        return {"rating": str(rating)}


class ActionRecordRating(Action):
    def name(self) -> Text:
        return "action_record_rating"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        case_id = tracker.get_slot("rating_case_id")
        rating = rating_of(str(tracker.get_slot("rating") or ""))
        if not case_id or rating is None:
            return []
        reopened = await asyncio.to_thread(self._record, case_id, rating, dispatcher)
        # A reopened case goes to a person: action_escalate follows (data/stories/handoff.yml).
        handoff = ([SlotSet("current_case_id", case_id), SlotSet("handoff_reason", "reopened_low_rating"),
                    SlotSet("handoff_due", True)] if reopened else [])
        return [SlotSet("rating_case_id", None), SlotSet("rating", None)] + handoff

    def _record(self, case_id: str, rating: int, dispatcher: CollectingDispatcher) -> bool:
        """Record the rating; True when it reopened the case."""
        now = datetime.now(SHANGHAI)
        followup_store().record_rating(case_id, rating, now)
        store = case_store()
        if rating <= LOW_RATING:
            store.set_status(case_id, "reopened", "shopper", note=f"rating {rating}")
            dispatcher.utter_message(text=say("rating_reopened", case_id=case_id))
            return True
        store.set_status(case_id, "closed", "shopper", note=f"rating {rating}")
        dispatcher.utter_message(text=say("rating_thanks", case_id=case_id, rating=rating))
        return False
