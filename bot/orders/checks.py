"""Check an order number a shopper gave: well formed, known, theirs, and the service up."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.orders.book import OrderBook, OrderServiceUnavailable
from bot.orders.model import Order, find_order_id

OK = "ok"
MALFORMED = "malformed"
NOT_FOUND = "not_found"
NOT_YOURS = "not_yours"
UNAVAILABLE = "unavailable"
OUTCOMES = (OK, MALFORMED, NOT_FOUND, NOT_YOURS, UNAVAILABLE)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderCheck:
    """`order` is set only for "ok"; `order_id` is the number found in the text, if any."""

    outcome: str
    order: Order | None
    order_id: str | None

    @property
    def ok(self) -> bool:
        return self.outcome == OK


def check_order(book: OrderBook, text_or_id: str, shopper_id: str) -> OrderCheck:
    """Find the 19-digit number in a message (or take a bare one) and look it up for this shopper."""
    order_id = find_order_id(text_or_id or "")
    if order_id is None:
        return OrderCheck(MALFORMED, None, None)
    try:
        order = book.get(order_id)
    except OrderServiceUnavailable as error:
        log.warning("order look-up failed: %s", error)
        return OrderCheck(UNAVAILABLE, None, order_id)
    if order is None:
        return OrderCheck(NOT_FOUND, None, order_id)
    # Someone else's order: say nothing about it, not even its status.
    if order.shopper_id != shopper_id:
        return OrderCheck(NOT_YOURS, None, order_id)
    return OrderCheck(OK, order, order_id)
