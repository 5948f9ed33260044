"""Handing the conversation to a person (转人工): the one action every trigger leads to,
and the count of messages the bot did not understand.

Triggers found inside other actions (severity 1, a public threat, a loyal shopper with a
severity-2 problem, a declined or over-cap offer, a reopened case, an unverified order)
set `handoff_reason` and `handoff_due`; the rules in data/stories/handoff.yml then run
`action_escalate`. Asking for a person runs it directly.
"""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Dict, List, Optional, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.cases import complaint_done, open_case_from_slots
from actions.services import case_store, handoff_queue, owned_order, shopper_tier
from bot.cases import CaseRecord
from bot.cases.sla import service_levels
from bot.handoff import handoff_rules
from bot.replies.case_replies import when

SHANGHAI = ZoneInfo("Asia/Shanghai")
HANDOFF_SLOTS = ("handoff_reason", "handoff_due", "current_offer", "offer_queue", "requested_slot")
FALLBACK_INTENT = "nlu_fallback"


def _current_case(tracker: Tracker) -> Optional[CaseRecord]:
    """The case this conversation is about: the current one, else the shopper's newest
    unfinished one."""
    store = case_store()
    case_id = tracker.get_slot("current_case_id") or tracker.get_slot("rating_case_id")
    case = store.get(case_id) if case_id else None
    if case is not None and (not case.is_finished or case.status == "reopened"):
        return case
    return next((c for c in store.cases_of(tracker.sender_id) if not c.is_finished), None)


class ActionEscalate(Action):
    """Mark the case escalated, queue the conversation by priority, tell the shopper the
    case number and the expected wait, and pause the bot until an agent hands back."""

    def name(self) -> Text:
        return "action_escalate"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        # No reason set by another action: the shopper asked (request_human).
        reason = tracker.get_slot("handoff_reason") or "asked_for_person"
        text, events = await asyncio.to_thread(self._escalate, tracker, reason)
        dispatcher.utter_message(text=text)
        # Paused, nothing predicts the usual action_listen; log it, so what the shopper
        # writes meanwhile follows a listening bot, as in any other turn.
        return events + [SlotSet(slot, None) for slot in HANDOFF_SLOTS] + [
            ActiveLoop(None), ConversationPaused(), ActionExecuted("action_listen")]

    def _escalate(self, tracker: Tracker, reason: str):
        events: List[EventType] = []
        if tracker.get_slot("complaint_category"):
            # A complaint still being told: it becomes a case now, with what is known,
            # so the agent does not ask again.
            case, _, _ = open_case_from_slots(tracker, reason)
            events = complaint_done(case.id)
        else:
            case = _current_case(tracker)
        order = owned_order(case.order_id, case.shopper_id) if case else None
        tier = order.tier if order else shopper_tier(tracker.sender_id)
        hours = service_levels().first_response_hours
        queue = handoff_queue()
        handoff, created = queue.escalate(
            tracker.sender_id, tracker.get_latest_input_channel() or "rest", reason,
            severity=case.severity if case else 3, tier=tier, first_response_hours=hours,
            case_id=case.id if case else None, now=datetime.now(SHANGHAI))
        rules = handoff_rules()
        case_text = rules.say("case", case_id=handoff.case_id) if handoff.case_id else ""
        if not created:
            return rules.say("already_queued", case=case_text), events
        ahead = queue.ahead_of(handoff)
        minutes = rules.expected_wait_minutes(ahead, hours)
        body = rules.say("queued" if ahead else "queued_first", case=case_text, ahead=ahead,
                         minutes=minutes, due=when(handoff.first_response_due))
        return rules.reason(reason).lead + body, events


def not_understood_in_a_row(tracker: Tracker) -> int:
    """Messages in a row the bot could not place, the latest included: this run plus
    the earlier runs of this action since the last message it understood. (A photo sent
    inside the form also reads as nlu_fallback, but the form answers it: not a miss.)"""
    count = 1
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == "action_not_understood":
            count += 1
        elif event.get("event") == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent != FALLBACK_INTENT:
                break
    return count


class ActionNotUnderstood(Action):
    """Count the misses in a row: after too many, a person takes over; otherwise
    utter_ask_clarify follows (rules.yml) with the five category buttons."""

    def name(self) -> Text:
        return "action_not_understood"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if not_understood_in_a_row(tracker) >= handoff_rules().not_understood_in_a_row:
            return [SlotSet("handoff_reason", "not_understood"), SlotSet("handoff_due", True)]
        return []
