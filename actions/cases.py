"""Open the case once the complaint form is complete; tell shoppers how their cases stand."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Dict, List, Optional, Text, Tuple
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.complaints import COMPLAINT_SLOTS, latest_user_event, request_key
from actions.services import case_store, owned_order, shopper_tier
from bot.cases import CaseRecord
from bot.cases.sla import due_times
from bot.handoff import handoff_rules
from bot.orders import Order
from bot.policy.severity import grade
from bot.replies.case_replies import case_list, case_opened
from bot.replies.form_replies import say

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_LISTED_CASES = 5


def _order(tracker: Tracker) -> Optional[Order]:
    if tracker.get_slot("order_verified") is False:
        return None
    return owned_order(tracker.get_slot("order_id"), tracker.sender_id)


def _complaint_event(tracker: Tracker) -> Dict[str, Any]:
    """The message that started this complaint (the one acknowledged last)."""
    events = tracker.events
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if event.get("event") == "action" and event.get("name") == "action_acknowledge_complaint":
            return next((e for e in reversed(events[:index]) if e.get("event") == "user"), {})
    return latest_user_event(tracker)


def open_case_from_slots(tracker: Tracker, reason: Optional[str] = None
                         ) -> Tuple[CaseRecord, bool, Optional[str]]:
    """Open (or find) the case of the complaint in the slots, graded with its order.
    Returns the case, whether it is new, and why a person must take it now (None when
    the bot may go on): a reason found while collecting, `reason`, or the shopper's tier."""
    category = tracker.get_slot("complaint_category")
    description = tracker.get_slot("description") or ""
    order = _order(tracker)
    entities = [{"entity": name, "value": tracker.get_slot(name)}
                for name in ("product", "defect") if tracker.get_slot(name)]
    severity = grade(category, description, entities, order)
    level = min(severity.level, int(tracker.get_slot("severity") or 3))
    tier = order.tier if order else shopper_tier(tracker.sender_id)
    reason = (tracker.get_slot("needs_human_reason") or reason
              or handoff_rules().trigger(level, tier, severity.public_threat))
    now = datetime.now(SHANGHAI)
    due = due_times(now, level, needs_human=bool(reason), public=severity.public_threat)
    remedy = tracker.get_slot("remedy")
    store = case_store()
    case, created = store.open_case(
        request_key=request_key(tracker, _complaint_event(tracker)),
        shopper_id=tracker.sender_id,
        channel=tracker.get_latest_input_channel() or "rest",
        category=category,
        secondary_category=tracker.get_slot("secondary_category"),
        severity=level,
        description=description or "（顾客通过按钮选择了问题类别，未填写描述）",
        order_id=tracker.get_slot("order_id"),
        photos=tracker.get_slot("photos") or (),
        photo_missing_reason=tracker.get_slot("photo_missing_reason"),
        remedy=remedy,
        first_response_due=due.first_response,
        solution_due=due.solution,
        needs_human=bool(reason),
        needs_human_reason=reason,
        now=now,
    )
    if reason and not case.needs_human:
        case = store.mark_for_human(case.id, reason)
    # A safety case was opened at the first message, before the order and the wish
    # were known: fill them in now.
    case = store.add_details(case.id, order_id=tracker.get_slot("order_id"), remedy=remedy)
    return case, created, reason


def complaint_done(case_id: str) -> List[EventType]:
    """The slots after a complaint became a case: the case is current, the rest is reset."""
    return [SlotSet("current_case_id", case_id), SlotSet("secondary_category", None),
            SlotSet("complaint_category", None), SlotSet("product", None),
            SlotSet("defect", None),
            *(SlotSet(slot, None) for slot in COMPLAINT_SLOTS),
            SlotSet("order_id_failures", 0), SlotSet("photo_failures", 0)]


class ActionOpenCase(Action):
    def name(self) -> Text:
        return "action_open_case"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        if not tracker.get_slot("complaint_category"):
            dispatcher.utter_message(response="utter_ask_clarify")
            return []
        case, created, reason = await asyncio.to_thread(open_case_from_slots, tracker)
        dispatcher.utter_message(text=case_opened(case, created))
        # A person decides from here: action_escalate follows (data/stories/handoff.yml).
        handoff = [SlotSet("handoff_reason", reason), SlotSet("handoff_due", True)] if reason else []
        return complaint_done(case.id) + handoff


class ActionCaseStatus(Action):
    """"我的投诉处理到哪了": the shopper's cases with status, next step and due time."""

    def name(self) -> Text:
        return "action_case_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        cases = await asyncio.to_thread(case_store().cases_of, tracker.sender_id)
        asked = next(tracker.get_latest_entity_values("case_id"), None)
        if asked:
            # Only the shopper's own cases: another shopper's number reveals nothing.
            match = [case for case in cases if case.id == asked.upper()]
            if match:
                dispatcher.utter_message(text=case_list(match))
                return []
            dispatcher.utter_message(text=say("case_not_found"))
        unfinished = [case for case in cases if not case.is_finished]
        finished = [case for case in cases if case.is_finished]
        dispatcher.utter_message(text=case_list((unfinished + finished)[:MAX_LISTED_CASES]))
        return []
