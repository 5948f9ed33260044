"""Offer what the compensation policy allows, take the shopper's answer, and hand the
case to a person when policy says a person decides (declined twice, above the cap)."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Dict, List, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import case_store, followup_store, owned_order
from bot.cases.followups import followup_delay
from bot.cases.sla import service_levels
from bot.policy.compensation import REFUSED_RETURN, offers_for, situation_of
from bot.replies.case_replies import when
from bot.replies.offer_replies import offer_buttons, say

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_DECLINES = 2
# When an accepted remedy is carried out, in working days.
DELIVERY_DAYS = {"refund": 3, "exchange": 2, "repair": 2, "compensation": 1}
OFFER_SLOTS = ("current_offer", "offer_queue")


def _now() -> datetime:
    return datetime.now(SHANGHAI)


def _escalate(reason: str) -> List[EventType]:
    """Policy says a person decides: action_escalate follows (data/stories/handoff.yml)
    and tells the shopper why, the case number and the wait."""
    return [SlotSet(slot, None) for slot in OFFER_SLOTS] + [
        SlotSet("handoff_reason", reason), SlotSet("handoff_due", True)]


def _present(case_id: str, offers: List[Dict[str, Any]], declined: int,
             dispatcher: CollectingDispatcher, intro: str = "") -> List[EventType]:
    """Offer the first of `offers` (all within the auto-approval cap); keep the rest."""
    offer = offers[0]
    case_store().add_event(case_id, "offer_made", "bot", offer)
    dispatcher.utter_message(text=intro + say("offer", offer=offer["text"]), buttons=offer_buttons())
    return [SlotSet("current_offer", offer), SlotSet("offer_queue", offers[1:]),
            SlotSet("offers_declined", float(declined))]


class ActionOfferRemedy(Action):
    """After a case opens: the best remedy policy allows, the shopper's wish first."""

    def name(self) -> Text:
        return "action_offer_remedy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        case_id = tracker.get_slot("current_case_id")
        return await asyncio.to_thread(self._offer, case_id, dispatcher) if case_id else []

    def _offer(self, case_id: str, dispatcher: CollectingDispatcher) -> List[EventType]:
        case = case_store().get(case_id)
        if case is None or case.needs_human or case.is_finished:
            return []  # a person already has it, or nothing is left to decide
        order = owned_order(case.order_id, case.shopper_id)
        if order is None:
            return _escalate("no_order")
        situation = situation_of(case.category, case.severity, case.description, order)
        offers = [o.to_dict() for o in offers_for(situation, order, severity=case.severity,
                                                  text=case.description, now=_now())]
        if not offers:
            return _escalate("no_more_offers")
        if offers[0]["code"] == REFUSED_RETURN:
            # Not a remedy to accept: the polite refusal with the reason and what remains.
            case_store().add_event(case_id, "return_refused", "bot", offers[0])
            dispatcher.utter_message(text=offers[0]["text"])
            return []
        # The shopper's own wish, when policy offers it, comes first.
        offers.sort(key=lambda o: o["remedy"] != case.remedy)
        grantable = [o for o in offers if not o["needs_approval"]]
        if not grantable:
            return _escalate("over_cap")
        intro = ""
        if offers[0]["needs_approval"]:
            # The better option is above what the bot may grant: say so, offer what it can.
            intro = say("above_cap_note", offer=offers[0]["text"])
        return _present(case_id, grantable, 0, dispatcher, intro=intro)


class ActionOfferResponse(Action):
    """Yes / no — to the pending offer if there is one, otherwise just acknowledged."""

    def name(self) -> Text:
        return "action_offer_response"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        yes = intent == "affirm"
        offer = tracker.get_slot("current_offer")
        case_id = tracker.get_slot("current_case_id")
        if not offer or not case_id:
            dispatcher.utter_message(text=say("plain_yes" if yes else "plain_no"))
            return []
        if yes:
            return await asyncio.to_thread(self._accept, case_id, offer, tracker, dispatcher)
        queue = list(tracker.get_slot("offer_queue") or [])
        declined = int(tracker.get_slot("offers_declined") or 0) + 1
        return await asyncio.to_thread(self._decline, case_id, offer, queue, declined, dispatcher)

    def _accept(self, case_id: str, offer: Dict[str, Any], tracker: Tracker,
                dispatcher: CollectingDispatcher) -> List[EventType]:
        now = _now()
        case_store().resolve_with(case_id, offer["remedy"], offer, now=now)
        delay = followup_delay()
        followup_store().schedule(case_id, tracker.sender_id,
                                  tracker.get_latest_input_channel() or "rest", now + delay)
        by = service_levels().add_working_days(now, DELIVERY_DAYS.get(offer["remedy"], 3))
        promise = say("followup_promise", hours=f"{delay.total_seconds() / 3600:g}")
        dispatcher.utter_message(text=say(f"accepted.{offer['remedy']}", by=when(by)) +
                                 say("accepted_case", case_id=case_id, followup=promise))
        return [SlotSet(slot, None) for slot in OFFER_SLOTS] + [SlotSet("offers_declined", 0.0)]

    def _decline(self, case_id: str, offer: Dict[str, Any], queue: List[Dict[str, Any]],
                 declined: int, dispatcher: CollectingDispatcher) -> List[EventType]:
        case_store().add_event(case_id, "offer_declined", "shopper", {"code": offer["code"]})
        if declined >= MAX_DECLINES:
            return _escalate("declined_twice") + [SlotSet("offers_declined", float(declined))]
        if not queue:
            return _escalate("no_more_offers")
        return _present(case_id, queue, declined, dispatcher, intro=say("next_offer"))
