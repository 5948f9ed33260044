"""The seven-day no-reason return (七天无理由退货): may this order go back, and what to say.

The numbers and the wording live in the `returns` section of `compensation.yml`
(PRODUCT.md "Compensation", last row); this module applies them:
- the window counts calendar days in the shop's time zone from the day AFTER delivery,
  so a parcel signed for at 23:50 does not lose its first day;
- an order not yet delivered cannot be returned yet (cancel or refuse delivery instead);
- items with `returnable: false` (custom-made, perishable, opened digital goods,
  periodicals) are excluded and named;
- faulty goods are a quality return: the seven-day limit does not apply and the shop pays
  the shipping.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from string import Formatter
from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.policy.policy_yaml import Key, PolicyFile

__all__ = ["ReturnDecision", "ReturnRules", "last_day_to_return", "no_reason_return",
           "parse_return_rules", "return_rules"]

_CENT = Decimal("0.01")
REASONS = ("ok", "not_delivered", "window_passed", "excluded_item", "refunded_or_cancelled")

# The placeholders each message may use; the file is refused if a text uses another, so
# a typo shows at start-up rather than as a KeyError in front of a shopper.
_COMMON = ("window_days", "refund_due_days", "excluded_kinds")
MESSAGE_FIELDS: Mapping[str, Tuple[str, ...]] = {
    "accepted": _COMMON + ("last_day", "delivered_day", "refund"),
    "some_excluded": _COMMON + ("items",),
    "faulty": _COMMON + ("refund",),
    "unshipped": _COMMON,
    "in_transit": _COMMON,
    "window_passed": _COMMON + ("last_day", "delivered_day", "alternatives"),
    "excluded_item": _COMMON + ("items", "last_day", "alternatives"),
    "refunded": _COMMON,
    "cancelled": _COMMON,
    "alternatives": _COMMON,
}


@dataclass(frozen=True)
class ReturnRules:
    window_days: int
    refund_due_days: int
    timezone: ZoneInfo
    excluded_kinds: str
    messages: Mapping[str, str]


@dataclass(frozen=True)
class ReturnDecision:
    eligible: bool
    reason: str                      # one of REASONS
    message: str                     # polite Chinese for the shopper
    last_day: Optional[date]         # last day to apply; None when no window applies
    shopper_pays_shipping: bool      # True unless the goods are faulty
    refund_due_days: int             # refund within N days of the shop receiving the goods
    excluded_items: Tuple[str, ...]  # names of the items a no-reason return cannot include
    # What the shopper gets back if the return goes ahead (0.00 when refused).
    refund: Decimal = Decimal("0.00")


def _placeholders(text: str) -> Iterable[str]:
    for _, name, _, _ in Formatter().parse(text):
        if name is not None:
            yield name


def check_template(source: PolicyFile, key: Key, text: Any, allowed: Sequence[str]) -> str:
    """A text whose {placeholders} are all in `allowed`; shared with compensation.py."""
    if not isinstance(text, str):
        raise source.error(key, "must be a text")
    try:
        names = list(_placeholders(text))
    except ValueError as error:  # a lone { or }
        raise source.error(key, f"bad braces in the text ({error}); write {{{{ for a literal {{")
    for name in names:
        if name not in allowed:
            raise source.error(key, f"unknown placeholder {{{name}}}; this text may use "
                               + ", ".join(f"{{{n}}}" for n in allowed))
    return text


def parse_return_rules(source: PolicyFile, key: Key, value: Any) -> ReturnRules:
    """Check the `returns` section of the compensation file."""
    section = source.mapping(key, value, required=("window_days", "refund_due_days", "timezone",
                                                   "excluded_kinds", "messages"))
    zone_name = section["timezone"]
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError):
        raise source.error(key + ("timezone",), f"unknown time zone '{zone_name}' "
                           "(write it like Asia/Shanghai)") from None
    kinds = section["excluded_kinds"]
    if not isinstance(kinds, str) or not kinds.strip():
        raise source.error(key + ("excluded_kinds",), "must be a non-empty text")
    raw_messages = source.mapping(key + ("messages",), section["messages"],
                                  required=tuple(MESSAGE_FIELDS))
    messages = {name: check_template(source, key + ("messages", name), raw_messages[name], fields)
                for name, fields in MESSAGE_FIELDS.items()}
    return ReturnRules(
        window_days=source.integer(key + ("window_days",), section["window_days"], 1, 365),
        refund_due_days=source.integer(key + ("refund_due_days",), section["refund_due_days"], 1, 365),
        timezone=zone,
        excluded_kinds=kinds.strip(),
        messages=messages,
    )


def return_rules() -> ReturnRules:
    """The shop's rules, from the `returns` section of compensation.yml (read once)."""
    # Imported here: compensation.py imports this module to build the offer.
    from bot.policy.compensation import compensation_rules
    return compensation_rules().returns


def _day(d: date) -> str:
    return f"{d.month}月{d.day}日"


def _money(amount: Decimal) -> str:
    return f"¥{amount.quantize(_CENT, rounding=ROUND_HALF_UP)}"


def _names(items: Iterable[Any]) -> str:
    return "、".join(f"「{item.name}」" for item in items)


def last_day_to_return(delivered_at: datetime, rules: Optional[ReturnRules] = None) -> date:
    """The last day to apply: day 1 is the day after delivery in the shop's time zone."""
    rules = rules or return_rules()
    if delivered_at.tzinfo is None or delivered_at.utcoffset() is None:
        raise ValueError(f"delivered_at must be a timezone-aware datetime, got {delivered_at!r}")
    delivered = delivered_at.astimezone(rules.timezone).date()
    return date.fromordinal(delivered.toordinal() + rules.window_days)


def no_reason_return(order: Any, *, today: date, faulty: bool = False, sku: Optional[str] = None,
                     rules: Optional[ReturnRules] = None) -> ReturnDecision:
    """Whether `order` (or its item `sku`) may go back without a reason on `today`.

    `today` is the shop's calendar day (Asia/Shanghai by default). `faulty` means the
    shopper reports a defect: then the seven-day limit and the exclusions do not apply.
    """
    rules = rules or return_rules()
    if isinstance(today, datetime):
        # A datetime is a date too, and would silently compare in the wrong zone.
        today = today.astimezone(rules.timezone).date()
    items = tuple(order.items)
    if sku is not None:
        items = tuple(item for item in order.items if item.sku == sku)
        if not items:
            raise ValueError(f"order {order.order_id} has no item {sku!r}")
    fields = {"window_days": rules.window_days, "refund_due_days": rules.refund_due_days,
              "excluded_kinds": rules.excluded_kinds}
    alternatives = rules.messages["alternatives"].format(**fields)

    def decide(reason: str, message: str, *, last_day: Optional[date] = None,
               excluded: Tuple[str, ...] = (), refund: Decimal = Decimal("0")) -> ReturnDecision:
        return ReturnDecision(
            eligible=reason == "ok", reason=reason, message=message, last_day=last_day,
            shopper_pays_shipping=not faulty, refund_due_days=rules.refund_due_days,
            excluded_items=excluded, refund=refund.quantize(_CENT, rounding=ROUND_HALF_UP))

    status = order.status
    if status in ("refunded", "cancelled"):
        return decide("refunded_or_cancelled", rules.messages[status].format(**fields))
    if status != "delivered":
        text = rules.messages["unshipped" if status == "paid" else "in_transit"]
        return decide("not_delivered", text.format(**fields))
    if order.delivered_at is None:
        raise ValueError(f"order {order.order_id} is delivered but has no delivered_at")

    if faulty:
        refund = sum((item.subtotal for item in items), Decimal("0"))
        return decide("ok", rules.messages["faulty"].format(**fields, refund=_money(refund)),
                      refund=refund)

    last_day = last_day_to_return(order.delivered_at, rules)
    dates = {"last_day": _day(last_day),
             "delivered_day": _day(order.delivered_at.astimezone(rules.timezone).date())}
    if today > last_day:
        return decide("window_passed",
                      rules.messages["window_passed"].format(**fields, **dates, alternatives=alternatives),
                      last_day=last_day)
    excluded = tuple(item for item in items if not item.returnable)
    excluded_names = tuple(item.name for item in excluded)
    kept = tuple(item for item in items if item.returnable)
    if not kept:
        text = rules.messages["excluded_item"].format(**fields, items=_names(excluded),
                                                      last_day=dates["last_day"],
                                                      alternatives=alternatives)
        return decide("excluded_item", text, last_day=last_day, excluded=excluded_names)
    refund = sum((item.subtotal for item in kept), Decimal("0"))
    text = rules.messages["accepted"].format(**fields, **dates, refund=_money(refund))
    if excluded:
        text += rules.messages["some_excluded"].format(**fields, items=_names(excluded))
    return decide("ok", text, last_day=last_day, excluded=excluded_names, refund=refund)
