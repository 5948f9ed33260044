"""The complaint form (投诉登记): description, order number, photo evidence, remedy.

One validator per kind of value; the business checks live in bot/.
"""
from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Text
from zoneinfo import ZoneInfo

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.complaints import shopper_words
from actions.evidence import store_attached_photos
from actions.services import order_book
from bot.intake import REMEDIES, NO_PREFERENCE, cannot_photograph, photos_required, wanted_remedy
from bot.orders import Order, OrderServiceUnavailable, check_order
from bot.replies.form_replies import remedy_buttons, say

SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_ORDER_TRIES = 3
MAX_PHOTO_TRIES = 3
MAX_DESCRIPTION_CHARS = 2000
RECENT_ORDER_BUTTONS = 5


def order_summary(order: Order) -> str:
    """A short, PII-free line the shopper recognises their order by."""
    names = "、".join(item.name for item in order.items[:2])
    if len(order.items) > 2:
        names += f"等{len(order.items)}件"
    when = order.paid_at.astimezone(SHANGHAI).strftime("%-m月%-d日下单的") if order.paid_at else ""
    status = {"paid": "待发货", "shipped": "运输中", "delivered": "已签收",
              "cancelled": "已取消", "refunded": "已退款"}.get(order.status, order.status)
    return f"{when}{names}（{status}，¥{order.amount}）"


def human_reason(tracker: Tracker, reason: str) -> str:
    """Why a person must look: the first reason stands (safety outranks a bad number)."""
    return tracker.get_slot("needs_human_reason") or reason


def needs_photos(tracker: Tracker) -> bool:
    if (tracker.get_slot("severity") or 3) <= 1:
        # Safety first: a person calls; nobody is asked to photograph a smoking charger.
        return False
    return photos_required(tracker.get_slot("complaint_category") or "",
                           tracker.get_slot("description") or "")


class ValidateComplaintForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_complaint_form"

    async def required_slots(
        self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
        tracker: Tracker, domain: DomainDict,
    ) -> List[Text]:
        slots = list(domain_slots)
        if (tracker.get_slot("order_id_failures") or 0) >= MAX_ORDER_TRIES \
                and not tracker.get_slot("order_id"):
            slots.remove("order_id")
        if not needs_photos(tracker):
            slots.remove("photo_evidence")
        return slots

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
    ) -> Dict[Text, Any]:
        text = str(value or "").strip()
        if not text or text.startswith("/"):
            return {"description": None}
        return {"description": text[:MAX_DESCRIPTION_CHARS]}

    async def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
    ) -> Dict[Text, Any]:
        text = str(value or "")
        if not any(c.isdigit() for c in text):
            return self._order_id_failed("missing", dispatcher, tracker)
        try:
            check = await asyncio.to_thread(check_order, order_book(), text,
                                            tracker.sender_id)
        except OrderServiceUnavailable:
            check = None
        if check is None or check.outcome == "unavailable":
            if check is not None and check.order_id:
                # Nothing is lost when the order system is down: keep the number, a
                # person verifies it.
                dispatcher.utter_message(text=say("order_id_unavailable"))
                return {"order_id": check.order_id, "order_verified": False,
                        "needs_human_reason": human_reason(tracker, "order_unverified")}
        elif check.outcome == "ok":
            dispatcher.utter_message(text=say("order_found", order=order_summary(check.order)))
            return {"order_id": check.order_id, "order_verified": True}
        return self._order_id_failed(check.outcome if check else "malformed",
                                     dispatcher, tracker)

    def _order_id_failed(self, outcome: str, dispatcher: CollectingDispatcher,
                         tracker: Tracker) -> Dict[Text, Any]:
        failures = int(tracker.get_slot("order_id_failures") or 0) + 1
        if failures >= MAX_ORDER_TRIES:
            dispatcher.utter_message(text=say("order_id_given_up"))
            return {"order_id": None, "order_id_failures": failures,
                    "needs_human_reason": human_reason(tracker, "order_id_failed")}
        reasons = ("malformed", "missing", "not_found", "not_yours")
        dispatcher.utter_message(text=say(f"order_id_{outcome if outcome in reasons else 'malformed'}"))
        return {"order_id": None, "order_id_failures": failures}

    async def validate_photo_evidence(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
    ) -> Dict[Text, Any]:
        if tracker.get_slot("requested_slot") != "photo_evidence" and value in ("received", "missing"):
            # Settled before the form asked (photos or "扔了" in the first message).
            return {"photo_evidence": value}
        result = await store_attached_photos(tracker, dispatcher)
        if result.stored:
            dispatcher.utter_message(text=say("photos_received", count=len(result.photos)))
            return {"photo_evidence": "received", "photos": result.photos}
        text = shopper_words(tracker)
        if not result.attached and cannot_photograph(text):
            dispatcher.utter_message(text=say("photo_missing_noted"))
            return {"photo_evidence": "missing", "photo_missing_reason": text[:500]}
        failures = int(tracker.get_slot("photo_failures") or 0) + 1
        if failures >= MAX_PHOTO_TRIES:
            dispatcher.utter_message(text=say("photo_given_up"))
            return {"photo_evidence": "missing", "photo_failures": failures,
                    "photo_missing_reason": "多次未收到有效图片"}
        if not result.attached:
            dispatcher.utter_message(text=say("photo_needed"))
        return {"photo_evidence": None, "photo_failures": failures}

    def validate_remedy(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict,
    ) -> Dict[Text, Any]:
        if value in REMEDIES or value == NO_PREFERENCE:
            return {"remedy": value}
        remedy = wanted_remedy(str(value or ""))
        if remedy is None:
            dispatcher.utter_message(text=say("remedy_unclear"))
        return {"remedy": remedy}


class ActionAskOrderId(Action):
    """Ask for the order number, offering the shopper's recent orders as buttons."""

    def name(self) -> Text:
        return "action_ask_order_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        try:
            orders = await asyncio.to_thread(order_book().orders_of, tracker.sender_id)
        except OrderServiceUnavailable:
            orders = []
        if orders:
            buttons = [{"title": order_summary(o), "payload": o.order_id}
                       for o in orders[:RECENT_ORDER_BUTTONS]]
            dispatcher.utter_message(text=say("ask_order_id_pick"), buttons=buttons)
        else:
            dispatcher.utter_message(text=say("ask_order_id"))
        return []


class AskFromReplies(Action, ABC):
    """The form's question for `slot`, worded in form_replies.yml (`ask_<slot>`)."""

    @property
    @abstractmethod
    def slot(self) -> str: ...

    def buttons(self) -> List[Dict[str, str]]:
        return []

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(text=say(f"ask_{self.slot}"), buttons=self.buttons())
        return []


class ActionAskDescription(AskFromReplies):
    slot = "description"


class ActionAskPhotoEvidence(AskFromReplies):
    slot = "photo_evidence"


class ActionAskRemedy(AskFromReplies):
    slot = "remedy"

    def buttons(self) -> List[Dict[str, str]]:
        return remedy_buttons()
