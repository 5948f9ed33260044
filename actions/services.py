"""The business services behind the actions, built once per action-server process.

Configuration comes from the environment (DATABASE_URL, ORDER_API_URL, MEDIA_DIR …) so
the action server, the console and the tests point at the same database and media.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Optional

from bot.cases import CaseStore
from bot.cases.followups import FollowupStore
from bot.cases.sla import service_levels
from bot.handoff import HandoffQueue, handoff_rules
from bot.intake import intake_rules
from bot.media import MediaStore, media_store_from_env
from bot.policy.compensation import compensation_rules
from bot.policy.returns import return_rules
from bot.policy.severity import severity_rules
from bot.orders import Order, OrderBook, OrderServiceUnavailable, order_book_from_env


def check_policies() -> None:
    """Load every rules file a shop edits, so a bad one stops the action server at start
    with a message naming the file, the key and the line — not mid-conversation."""
    compensation_rules()
    return_rules()
    severity_rules()
    service_levels()
    intake_rules()
    handoff_rules()


check_policies()


@lru_cache(maxsize=1)
def order_book() -> OrderBook:
    return order_book_from_env()


def owned_order(order_id: Optional[str], shopper_id: str) -> Optional[Order]:
    """The shopper's own order, or None: no number, not found, another shopper's, or the
    order service down (callers then go on without amounts)."""
    if not order_id:
        return None
    try:
        order = order_book().get(order_id)
    except OrderServiceUnavailable:
        return None
    return order if order and order.shopper_id == shopper_id else None


def shopper_tier(shopper_id: str) -> Optional[str]:
    """The tier (客户分层) on the shopper's newest order; None when unknown."""
    try:
        orders = order_book().orders_of(shopper_id)
    except OrderServiceUnavailable:
        return None
    return orders[0].tier if orders else None


@lru_cache(maxsize=1)
def case_store() -> CaseStore:
    return CaseStore()


@lru_cache(maxsize=1)
def media_store() -> MediaStore:
    return media_store_from_env()


@lru_cache(maxsize=1)
def followup_store() -> FollowupStore:
    return FollowupStore(case_store())


@lru_cache(maxsize=1)
def handoff_queue() -> HandoffQueue:
    return HandoffQueue(case_store())
