"""Orders as the after-sales flows see them, and the 19-digit order number.

Money is `Decimal`, never float, so a refund of 129.90 stays 129.90. In JSON an amount
may arrive as a number (`129.90`, the form the fixture file uses) or as a decimal string
(`"129.90"`); `Order.to_dict()` always writes amounts as strings with two decimals
(`"129.90"`), which every JSON consumer keeps exact and `Order.from_dict` reads back.

Timestamps are ISO 8601 with an offset (`2026-11-18T14:05:00+08:00`). One without an
offset is refused: the delivery time decides the 7-day return window, and a guessed time
zone can move it by a day.

Extra fields in an order record are ignored, so a shop's API may send more than we read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

STATUSES = ("paid", "shipped", "delivered", "cancelled", "refunded")
TIERS = ("loyal", "growth", "dormant", "regular")

# Use with fullmatch: `$` would also accept a trailing newline.
ORDER_ID_PATTERN = re.compile(r"[0-9]{19}")
# Digits on either side make a longer number (a phone number glued to an order number,
# a 20-digit paste): never cut a 19-digit order number out of it.
_ORDER_ID_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{19}(?![0-9])")
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_CENT = Decimal("0.01")


class OrderDataError(ValueError):
    """An order record is incomplete or contradicts itself; the message names the order."""


def is_well_formed(order_id: str) -> bool:
    """Exactly 19 ASCII digits, nothing around them."""
    return isinstance(order_id, str) and ORDER_ID_PATTERN.fullmatch(order_id) is not None


def find_order_id(text: str) -> str | None:
    """The first 19-digit number in a message; full-width digits count as digits."""
    match = _ORDER_ID_IN_TEXT.search(text.translate(_FULL_WIDTH_DIGITS))
    return match.group(0) if match else None


def format_money(amount: Decimal) -> str:
    return str(amount.quantize(_CENT))


@dataclass(frozen=True)
class OrderItem:
    sku: str
    name: str
    price: Decimal
    quantity: int
    returnable: bool

    @property
    def subtotal(self) -> Decimal:
        return self.price * self.quantity


@dataclass(frozen=True)
class Order:
    order_id: str
    shopper_id: str
    status: str
    amount: Decimal
    items: tuple[OrderItem, ...]
    carrier: str | None
    tracking_no: str | None
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    tier: str
    # How the shop addresses the shopper (称呼), for an agent's canned replies.
    shopper_name: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Order:
        if not isinstance(d, Mapping):
            raise OrderDataError(f"an order must be a JSON object, not {type(d).__name__}")
        order_id = d.get("order_id")
        if not isinstance(order_id, str) or not is_well_formed(order_id):
            raise OrderDataError(f"order {order_id!r}: order_id must be a string of 19 digits")
        where = f"order {order_id}"
        raw_items = d.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            raise OrderDataError(f"{where}: items must be a non-empty list")
        order = cls(
            order_id=order_id,
            shopper_id=_text(d, "shopper_id", where),
            status=_choice(d, "status", STATUSES, where),
            amount=_money(d, "amount", where),
            items=tuple(_item(raw, f"{where}: items[{n}]") for n, raw in enumerate(raw_items)),
            carrier=_text(d, "carrier", where, optional=True),
            tracking_no=_text(d, "tracking_no", where, optional=True),
            paid_at=_time(d, "paid_at", where),
            shipped_at=_time(d, "shipped_at", where),
            delivered_at=_time(d, "delivered_at", where),
            tier=_choice(d, "tier", TIERS, where),
            shopper_name=_text(d, "shopper_name", where, optional=True),
        )
        _check_consistency(order, where)
        return order

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "shopper_id": self.shopper_id,
            "status": self.status,
            "amount": format_money(self.amount),
            "items": [
                {"sku": i.sku, "name": i.name, "price": format_money(i.price),
                 "quantity": i.quantity, "returnable": i.returnable}
                for i in self.items
            ],
            "carrier": self.carrier,
            "tracking_no": self.tracking_no,
            "paid_at": _iso(self.paid_at),
            "shipped_at": _iso(self.shipped_at),
            "delivered_at": _iso(self.delivered_at),
            "tier": self.tier,
            "shopper_name": self.shopper_name,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _text(d: Mapping[str, Any], key: str, where: str, optional: bool = False) -> str | None:
    value = d.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise OrderDataError(f"{where}: {key} must be a non-empty text, got {value!r}")
    return value


def _choice(d: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str) -> str:
    value = d.get(key)
    if value not in allowed:
        raise OrderDataError(f"{where}: {key} {value!r} is not one of {', '.join(allowed)}")
    return value


def _money(d: Mapping[str, Any], key: str, where: str) -> Decimal:
    value = d.get(key)
    # bool is an int; float goes through str so 129.9 becomes 129.9, not 129.899999…
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise OrderDataError(f"{where}: {key} must be an amount in yuan, got {value!r}")
    try:
        amount = Decimal(str(value))
        cents = amount.quantize(_CENT) if amount.is_finite() else None
    except InvalidOperation:  # not a number, or too large to hold in cents
        cents = None
    if cents is None or cents < 0 or cents != amount:
        raise OrderDataError(f"{where}: {key} {value} is not an amount in yuan with at most 2 decimals")
    return cents


def _time(d: Mapping[str, Any], key: str, where: str) -> datetime | None:
    value = d.get(key)
    if value is None:
        return None
    try:
        # Python 3.10's fromisoformat does not read the "Z" suffix.
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except (TypeError, ValueError, AttributeError):
        raise OrderDataError(f"{where}: {key} {value!r} is not an ISO 8601 time") from None
    if moment.utcoffset() is None:
        raise OrderDataError(f"{where}: {key} {value!r} has no UTC offset "
                             "(write it like 2026-11-18T14:05:00+08:00)")
    return moment


def _item(raw: Any, where: str) -> OrderItem:
    if not isinstance(raw, Mapping):
        raise OrderDataError(f"{where}: an item must be a JSON object")
    quantity = raw.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise OrderDataError(f"{where}: quantity must be a whole number of at least 1, got {quantity!r}")
    returnable = raw.get("returnable")
    if not isinstance(returnable, bool):
        raise OrderDataError(f"{where}: returnable must be true or false, got {returnable!r}")
    return OrderItem(
        sku=_text(raw, "sku", where),
        name=_text(raw, "name", where),
        price=_money(raw, "price", where),
        quantity=quantity,
        returnable=returnable,
    )


def _check_consistency(order: Order, where: str) -> None:
    total = sum((item.subtotal for item in order.items), Decimal("0"))
    if total != order.amount:
        raise OrderDataError(f"{where}: amount {format_money(order.amount)} differs from "
                             f"the items' total {format_money(total)}")
    if (order.carrier is None) != (order.tracking_no is None):
        raise OrderDataError(f"{where}: carrier and tracking_no go together (one is missing)")
    required = {
        "paid": ("paid_at",),
        "shipped": ("paid_at", "shipped_at"),
        "delivered": ("paid_at", "shipped_at", "delivered_at"),
        "refunded": ("paid_at",),
        "cancelled": (),
    }[order.status]
    forbidden = {
        "paid": ("shipped_at", "delivered_at"),
        "shipped": ("delivered_at",),
        "cancelled": ("shipped_at", "delivered_at"),
    }.get(order.status, ())
    for key in required:
        if getattr(order, key) is None:
            raise OrderDataError(f"{where}: a {order.status} order needs {key}")
    for key in forbidden:
        if getattr(order, key) is not None:
            raise OrderDataError(f"{where}: a {order.status} order cannot have {key}")
    # Digital goods may be shipped and delivered in the same minute, so equal is fine.
    timeline = [(k, getattr(order, k)) for k in ("paid_at", "shipped_at", "delivered_at")]
    present = [(k, t) for k, t in timeline if t is not None]
    if [k for k, _ in present] != [k for k, _ in timeline[:len(present)]]:
        raise OrderDataError(f"{where}: {present[-1][0]} is set but an earlier step is missing")
    for (earlier, t1), (later, t2) in zip(present, present[1:]):
        if t2 < t1:
            raise OrderDataError(f"{where}: {later} is before {earlier}")
