"""Fixtures for testing the custom actions the way the action server runs them.

Trackers are built with `rasa_sdk.Tracker.from_dict` from the JSON-like state the Rasa
server posts to the action server; the domain is the project's domain.yml. Every test
gets fresh services (order book, case store, media store) pointed at its own temporary
directory, so nothing is written to var/ and no test sees another test's cases.
"""
from __future__ import annotations

import asyncio
import base64
import io
import itertools
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

import pytest
from PIL import Image
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import services

ROOT = Path(__file__).resolve().parents[2]

# Shoppers and orders of the demo fixtures (bot/orders/demo_orders.json).
SHOPPER = "e2e-shopper-1"
SHOPPER_ORDER = "4883690060267735468"          # delivered, 碎花雪纺连衣裙 M码 藏青, ¥259.00
SHOPPER_ORDER_ITEM = "碎花雪纺连衣裙"
OTHER_SHOPPER = "e2e-shopper-2"
OTHER_SHOPPER_ORDER = "6971510563381891928"    # delivered, 儿童磁力积木 520件套, ¥149.00
OTHER_SHOPPER_ORDER_ITEM = "儿童磁力积木"
OTHER_SHOPPER_ORDER_AMOUNT = "149"
UNKNOWN_ORDER = "6912345678901234567"
SHOPPER_WITHOUT_ORDERS = "shopper-with-no-orders"

FORM = "complaint_form"
SERVICE_FUNCTIONS = ("order_book", "case_store", "media_store", "followup_store", "handoff_queue")


# --------------------------------------------------------------------------- services


def _clear_service_caches() -> None:
    for name in SERVICE_FUNCTIONS:
        getattr(services, name).cache_clear()


@pytest.fixture(autouse=True)
def fresh_services(tmp_path, monkeypatch):
    """Services built from this test's environment: a temporary case database and media
    directory, the demo order fixtures, and no order API."""
    database = tmp_path / "cases.db"
    media = tmp_path / "media"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("MEDIA_DIR", str(media))
    for name in ("ORDER_API_URL", "ORDER_API_TOKEN", "ORDER_API_TIMEOUT", "ORDER_FIXTURES"):
        monkeypatch.delenv(name, raising=False)
    _clear_service_caches()
    yield {"database": database, "media": media}
    if services.case_store.cache_info().currsize:
        services.case_store().close()
    _clear_service_caches()


@pytest.fixture
def order_service_down(monkeypatch):
    """The shop's order API is configured but nothing listens there (port 9, discard)."""
    monkeypatch.setenv("ORDER_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ORDER_API_TIMEOUT", "2")
    services.order_book.cache_clear()


@pytest.fixture
def media_dir(fresh_services) -> Path:
    return fresh_services["media"]


@pytest.fixture
def store():
    """The case store the actions use in this test."""
    return services.case_store()


# --------------------------------------------------------------------------- domain


@lru_cache(maxsize=1)
def _domain() -> Dict[str, Any]:
    from rasa.shared.core.domain import Domain

    return Domain.load(str(ROOT / "domain.yml")).as_dict()


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return _domain()


def initial_slots() -> Dict[str, Any]:
    """Every slot of the domain at its initial value, plus the form's requested_slot."""
    slots = {name: spec.get("initial_value") for name, spec in _domain()["slots"].items()}
    slots["requested_slot"] = None
    return slots


# --------------------------------------------------------------------------- trackers

_timestamps = itertools.count(1_700_000_000)


def user_event(text: str, intent: Optional[str] = None, message_id: str = "m-1",
               entities: Sequence[Dict[str, Any]] = (),
               metadata: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    return {
        "event": "user", "timestamp": float(next(_timestamps)), "text": text,
        "message_id": message_id, "input_channel": "rest", "metadata": metadata or {},
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.95},
                       "entities": list(entities), "message_id": message_id,
                       "metadata": metadata or {}},
    }


def action_event(name: str) -> Dict[str, Any]:
    return {"event": "action", "timestamp": float(next(_timestamps)), "name": name,
            "policy": None, "confidence": 1.0}


def slot_event(name: str, value: Any) -> Dict[str, Any]:
    return {"event": "slot", "timestamp": float(next(_timestamps)), "name": name, "value": value}


def make_tracker(
    text: str = "",
    intent: Optional[str] = None,
    *,
    sender_id: str = SHOPPER,
    entities: Sequence[Dict[str, Any]] = (),
    metadata: Optional[Dict[str, Any]] = None,
    intent_ranking: Optional[List[Dict[str, Any]]] = None,
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[Dict[str, Any]] = None,
    latest_action_name: str = "action_listen",
    message_id: str = "m-1",
) -> Tracker:
    """A tracker as the Rasa server sends it: the latest message, all slots, events."""
    intent_dict = {"name": intent, "confidence": 0.95} if intent else {}
    state_slots = initial_slots()
    state_slots.update(slots or {})
    if events is None:
        events = [action_event("action_listen"),
                  user_event(text, intent, message_id, entities, metadata)]
    return Tracker.from_dict({
        "sender_id": sender_id,
        "slots": state_slots,
        "latest_message": {
            "text": text,
            "intent": intent_dict,
            "entities": list(entities),
            "metadata": metadata or {},
            "message_id": message_id,
            "intent_ranking": intent_ranking if intent_ranking is not None
            else ([intent_dict] if intent else []),
        },
        "events": events,
        "paused": False,
        "followup_action": None,
        "active_loop": active_loop or {},
        "latest_action_name": latest_action_name,
    })


def form_tracker(
    requested_slot: str,
    value: Any,
    text: Optional[str] = None,
    *,
    sender_id: str = SHOPPER,
    intent: str = "give_order_id",
    slots: Optional[Dict[str, Any]] = None,
    metadata: Optional[Dict[str, Any]] = None,
    message_id: str = "m-2",
) -> Tracker:
    """The tracker validate_complaint_form receives while the form asks for
    `requested_slot`: the shopper's answer, then the candidate value as the last event."""
    text = value if text is None else text
    state_slots = {"complaint_category": "quality", "description": "连衣裙开线了",
                   "severity": 2.0}
    state_slots.update(slots or {})
    state_slots["requested_slot"] = requested_slot
    state_slots[requested_slot] = value
    events = [
        action_event("action_listen"),
        user_event(str(text), intent, message_id, (), metadata),
        slot_event(requested_slot, value),
    ]
    return make_tracker(str(text), intent, sender_id=sender_id, metadata=metadata,
                        slots=state_slots, events=events,
                        active_loop={"name": FORM}, message_id=message_id)


# --------------------------------------------------------------------------- running


def run_action(action, tracker: Tracker, domain: Dict[str, Any]):
    """Run an action as the action server would: (messages sent, events returned)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain))
    return dispatcher.messages, events


def call(method, first: Any, tracker: Tracker, domain: Dict[str, Any]):
    """Call a form validator `validate_<slot>(value, …)` or `required_slots(slots, …)`,
    sync or async, with a fresh dispatcher: (messages sent, result)."""
    dispatcher = CollectingDispatcher()
    result = method(first, dispatcher, tracker, domain)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    return dispatcher.messages, result


def texts(messages: Iterable[Dict[str, Any]]) -> str:
    """Everything the shopper reads, buttons included, as one string."""
    parts = []
    for message in messages:
        parts.append(message.get("text") or "")
        for button in message.get("buttons") or []:
            parts.append(f"{button.get('title')} {button.get('payload')}")
    return "\n".join(parts)


def slot_values(events: Iterable[Any]) -> Dict[str, Any]:
    """The slots the events set (the last value of each)."""
    return {event["name"]: event["value"] for event in events if event.get("event") == "slot"}


def apply(tracker: Tracker, events: Iterable[Any]) -> Tracker:
    """The tracker after the action's SlotSet events, as the next action would see it."""
    updated = tracker.copy()
    for name, value in slot_values(events).items():
        updated.slots[name] = value
    return updated


# --------------------------------------------------------------------------- images


def image_bytes(color=(200, 30, 30), size=(64, 48), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def attachments(*urls: str, kind: str = "image") -> Dict[str, Any]:
    """Message metadata as the REST channel passes it."""
    return {"attachments": [{"type": kind, "url": url} for url in urls]}


def distinct_png_urls(count: int) -> List[str]:
    """`count` different PNG pictures (different bytes, so different sha256)."""
    return [data_url(image_bytes(color=(10 * n % 256, 255 - n, 7 * n % 256)))
            for n in range(count)]

