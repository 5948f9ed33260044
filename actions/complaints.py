"""Acknowledge a complaint in its category and prepare the complaint form from the
shopper's first words: description, remedy wanted, severity, photos already attached."""
from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Dict, List, Optional, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.evidence import store_attached_photos
from actions.services import case_store
from bot.cases.sla import due_times, service_levels
from bot.categories import category_of_intent
from bot.channels.rest import PHOTO_ONLY_TEXT
from bot.intake import cannot_photograph, photos_required, wanted_remedy
from bot.nlu.text_normalizer import normalize_text
from bot.policy.severity import grade
from bot.replies.acknowledgement import acknowledge
from bot.replies.case_replies import case_number

# Slots that describe one complaint; a new complaint starts them afresh. The order
# number is kept: the shopper is never asked twice for what they already gave.
COMPLAINT_SLOTS = ("description", "photo_evidence", "photos", "photo_missing_reason",
                   "photo_failures", "remedy", "severity", "needs_human_reason",
                   "order_id_failures")
SECONDARY_MIN_CONFIDENCE = 0.2
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The live-room channel (bot/channels/liveroom.py): complaints made in public.
LIVE_ROOM = "liveroom"


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
        raw = shopper_words(tracker)
        # A category button ("/complain_x") or a photo alone carries no words to keep.
        own_words = "" if raw.startswith("/") or raw == PHOTO_ONLY_TEXT else raw
        words = normalize_text(own_words)
        entities = message.get("entities") or []
        severity = grade(category, own_words, entities)
        reply = acknowledge(
            category,
            words,
            product=next(tracker.get_latest_entity_values("product"), None),
            defect=next(tracker.get_latest_entity_values("defect"), None),
            human_within_hours=(service_levels().first_response_hours
                                if severity.needs_human_now else None),
        )
        events: List[EventType] = []
        text = reply.text
        in_public = tracker.get_latest_input_channel() == LIVE_ROOM
        if severity.needs_human_now or in_public:
            # Safety, a public threat, or a complaint made in front of a live room: the
            # case exists now, even if the shopper never answers another question.
            case = await asyncio.to_thread(_open_now, tracker, category, own_words, severity)
            text += case_number(case)
            events.append(SlotSet("current_case_id", case.id))
        dispatcher.utter_message(text=text)

        fresh: Dict[str, Any] = {slot: None for slot in COMPLAINT_SLOTS}
        fresh.update(order_id_failures=0, photo_failures=0, complaint_category=category,
                     secondary_category=secondary_category(message, category),
                     severity=float(severity.level), description=own_words or None,
                     remedy=wanted_remedy(own_words))
        if severity.needs_human_now:
            fresh["needs_human_reason"] = "public_threat" if severity.public_threat else "severity_1"
            # action_escalate follows (data/stories/handoff.yml): no form questions first.
            fresh.update(handoff_reason=fresh["needs_human_reason"], handoff_due=True)
        if await asyncio.to_thread(self._about_another_matter, tracker, category, entities):
            fresh.update(order_id=None, order_verified=None)
        # Entities of this message only: an earlier complaint's product must not grade
        # this one.
        for name in ("product", "defect"):
            fresh[name] = next((e.get("value") for e in entities if e.get("entity") == name), None)
        attached = await store_attached_photos(_without_photos(tracker), dispatcher)
        if attached.photos:
            fresh.update(photos=attached.photos, photo_evidence="received")
        elif own_words and photos_required(category, own_words) and cannot_photograph(own_words):
            fresh.update(photo_evidence="missing", photo_missing_reason=own_words[:500])
        return events + [SlotSet(slot, value) for slot, value in fresh.items()]

    @staticmethod
    def _about_another_matter(tracker: Tracker, category: str, entities: List[Dict[str, Any]]) -> bool:
        """Whether the order kept from an earlier case must be asked for again: the
        shopper named no order now and complains in another category than that case.
        The same category goes on about the same matter (包裹还是没找到) and joins the
        open case; another category may well be another order, and the question offers
        the shopper's orders as buttons."""
        earlier = tracker.get_slot("current_case_id")
        if not earlier or not tracker.get_slot("order_id") \
                or any(e.get("entity") == "order_id" for e in entities):
            return False
        case = case_store().get(earlier)
        return case is not None and case.category != category


def _open_now(tracker: Tracker, category: str, words: str, severity):
    """The case at the first message. A safety case waits for a person; a live-room
    complaint is due for private contact within the public-complaint commitment."""
    now = datetime.now(SHANGHAI)
    in_public = tracker.get_latest_input_channel() == LIVE_ROOM
    needs_human = severity.needs_human_now
    reason = ("public_threat" if severity.public_threat else "severity_1") if needs_human else None
    due = due_times(now, severity.level, needs_human=needs_human,
                    public=in_public or severity.public_threat)
    case, _ = case_store().open_case(
        request_key=request_key(tracker, latest_user_event(tracker)),
        shopper_id=tracker.sender_id, channel=tracker.get_latest_input_channel() or "rest",
        category=category, severity=severity.level, description=words or "（未填写描述）",
        first_response_due=due.first_response, solution_due=due.solution,
        needs_human=needs_human, needs_human_reason=reason, now=now)
    return case


def latest_user_event(tracker: Tracker) -> Dict[str, Any]:
    return next((e for e in reversed(tracker.events) if e.get("event") == "user"), {})


def shopper_words(tracker: Tracker) -> str:
    """The latest message exactly as typed. `latest_message["text"]` is the normalised
    form NLU saw (half-width, Simplified); the user event keeps the original."""
    return latest_user_event(tracker).get("text") or tracker.latest_message.get("text") or ""


def request_key(tracker: Tracker, complaint: Dict[str, Any]) -> str:
    """One key per complaint message, so opening its case again finds the same case."""
    return f"{tracker.sender_id}:{complaint.get('message_id') or complaint.get('timestamp')}"


def secondary_category(message: Dict[str, Any], primary: str) -> Optional[str]:
    """The runner-up complaint class when NLU gives it real weight: kept as a tag."""
    for ranked in message.get("intent_ranking") or []:
        category = category_of_intent(ranked.get("name"))
        if category and category != primary:
            return category if (ranked.get("confidence") or 0) >= SECONDARY_MIN_CONFIDENCE else None
    return None


def _without_photos(tracker: Tracker) -> Tracker:
    """The tracker as seen by a new complaint: photos of an earlier one do not count."""
    copy = tracker.copy()
    copy.slots["photos"] = None
    return copy
