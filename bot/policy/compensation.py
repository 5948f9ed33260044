"""The compensation table (补偿方案): which situation a complaint is, and what to offer.

Everything a shop may change lives in `compensation.yml` (PRODUCT.md "Compensation",
"Customer tiers", "Severity" and the seven-day rule); this module reads it once, checks
it, and turns a row of it into concrete offers for one order:

    situation = situation_of("logistics", 2, "盒子压坏了，杯子碎了")      # "transit_damage"
    offers = offers_for(situation, order, severity=2)                   # best first
    offers[0].text   # "马上给您补发一件新的，压坏的不用寄回，补发运费我们承担"

An offer's `cost` is what counts against the auto-approval cap: the parts named in the
offer's `cap_counts` (refund money and/or coupon value). Goods sent to complete a sale
the shopper paid for (reship, exchange) count nothing; a full refund of faulty goods
counts the whole order value, since they come back unsellable. Above the cap, at a
severity where a person decides, or when a price cannot be checked, `needs_approval`
is set and a person decides.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple, Union

from bot.categories import CATEGORIES
from bot.orders.model import STATUSES, TIERS
from bot.policy.errors import PolicyConfigError
from bot.policy.location import policy_file
from bot.policy.policy_yaml import Key, PolicyFile
from bot.policy.terms import Term, prepare, terms_from
from bot.policy.returns import ReturnRules, check_template, no_reason_return, parse_return_rules

__all__ = [
    "COMPENSATION_FILE", "LEVELS", "REFUSED_RETURN", "REMEDIES", "SHIPPING", "SITUATIONS",
    "CompensationRules", "Offer", "PolicyConfigError", "auto_approval_cap",
    "compensation_rules", "load_compensation_rules", "offers_for", "promised_price_in",
    "situation_of", "stated_prices",
]

COMPENSATION_FILE = Path(__file__).with_name("compensation.yml")
SITUATIONS = ("quality_severe", "quality_minor", "wrong_item", "missing_item", "lost", "late",
              "late_repeated", "transit_damage", "price_difference", "missing_gift", "service",
              "no_reason_return")
# The case's remedy vocabulary; kept equal to bot.intake.REMEDIES (a test checks) without
# importing the complaint form's module into the policy layer.
REMEDIES = ("refund", "exchange", "repair", "compensation")
SHIPPING = ("both_ways", "return", "reship", "none")
REFUND_KINDS = ("none", "order", "share", "difference", "returnable_items")
COST_PARTS = ("refund", "coupon")
LEVELS = (1, 2, 3)
DEFAULT = "default"
# The code of the one "offer" given when a seven-day return is refused: its text is the
# refusal with the alternatives that remain.
REFUSED_RETURN = "return_not_accepted"

_CENT = Decimal("0.01")
_ZERO = Decimal("0.00")
_TEXT_FIELDS = ("refund", "coupon", "coupon_rate", "refund_rate", "warranty_months",
                "guarantee_months", "trace_hours", "shipping", "promised_price", "paid_price",
                "return_message")
_OFFER_KEYS = ("code", "remedy", "refund", "refund_rate", "coupon_rate", "coupon_amount",
               "warranty_months", "guarantee_months", "trace_hours", "shipping", "cap_counts",
               "text", "text_when_unknown")
_CODE = re.compile(r"[a-z][a-z0-9_]*")


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def _yuan(amount: Decimal) -> str:
    return f"¥{_cents(amount)}"


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


# ------------------------------------------------------------------------------ records

@dataclass(frozen=True)
class Offer:
    code: str                 # full_refund_coupon, exchange_warranty, reship, refund, ...
    remedy: str               # refund / exchange / repair / compensation
    refund: Decimal           # money back, 2 decimals
    coupon: Decimal           # coupon value, 2 decimals
    warranty_months: int      # extra warranty, 0 when none
    shop_pays_shipping: str   # both_ways | return | none | reship
    text: str                 # what the shopper reads, amounts filled in
    cost: Decimal             # what counts against the auto-approval cap (see module doc)
    needs_approval: bool      # a person decides before it is granted

    def to_dict(self) -> Dict[str, Any]:
        return {
            "code": self.code,
            "remedy": self.remedy,
            "refund": str(_cents(self.refund)),
            "coupon": str(_cents(self.coupon)),
            "warranty_months": self.warranty_months,
            "shop_pays_shipping": self.shop_pays_shipping,
            "text": self.text,
            "cost": str(_cents(self.cost)),
            "needs_approval": self.needs_approval,
        }


@dataclass(frozen=True)
class OfferSpec:
    """One offer as the file describes it, before an order gives it amounts."""
    name: str
    code: str
    remedy: str
    refund: str
    refund_rate: Optional[Decimal]
    coupon_rate: Optional[Decimal]
    coupon_amount: Optional[Decimal]
    warranty_months: int
    guarantee_months: int
    trace_hours: int
    shipping: str
    cap_counts: FrozenSet[str]
    text: str
    text_when_unknown: Optional[str]


@dataclass(frozen=True)
class SituationTable:
    severities: Tuple[int, ...]
    offers: Mapping[str, Tuple[OfferSpec, ...]]                       # tier or "default"
    at_severity: Mapping[int, Mapping[str, Tuple[OfferSpec, ...]]]

    def specs(self, tier: str, severity: int) -> Tuple[OfferSpec, ...]:
        # A severity row wins over a tier row: safety decides before loyalty does.
        for lists in (self.at_severity.get(severity, {}), self.offers):
            for key in (tier, DEFAULT):
                if key in lists:
                    return lists[key]
        return self.offers[DEFAULT]




@dataclass(frozen=True)
class SituationRule:
    situation: Optional[str]
    by_severity: Optional[Mapping[int, str]]
    categories: FrozenSet[str]      # empty: any category
    words: Tuple[Term, ...]         # empty: no word needed
    order_status: FrozenSet[str]    # empty: any order, or none

    def answer(self, severity: int) -> str:
        return self.situation if self.by_severity is None else self.by_severity[severity]


@dataclass(frozen=True)
class CompensationRules:
    source: Path
    cap: Decimal
    person_decides_at: FrozenSet[int]
    shipping_phrases: Mapping[str, str]
    extra_coupon_phrase: str
    offers: Mapping[str, OfferSpec]
    situations: Mapping[str, SituationTable]
    negation_prefixes: Tuple[str, ...]
    situation_rules: Tuple[SituationRule, ...]
    returns: ReturnRules


# ----------------------------------------------------------------------------- loading



def _amount(source: PolicyFile, key: Key, value: Any) -> Decimal:
    source.number(key, value, 0, minimum_inclusive=False)
    amount = Decimal(str(value))
    if _cents(amount) != amount:
        raise source.error(key, f"must be an amount in yuan with at most 2 decimals, got {value}")
    return _cents(amount)


def _rate(source: PolicyFile, key: Key, value: Any) -> Decimal:
    source.number(key, value, 0, 1, minimum_inclusive=False)
    return Decimal(str(value))


def _choice(source: PolicyFile, key: Key, value: Any, allowed: Tuple[str, ...]) -> str:
    if value not in allowed:
        raise source.error(key, f"unknown '{value}'; expected one of {', '.join(allowed)}")
    return value


def _levels(source: PolicyFile, key: Key, value: Any, allow_empty: bool) -> Tuple[int, ...]:
    if not isinstance(value, list):
        raise source.error(key, "must be a list of severity levels like [1, 2]")
    if not value and not allow_empty:
        raise source.error(key, "must list at least one severity level")
    levels = tuple(source.integer(key + (n,), v, min(LEVELS), max(LEVELS)) for n, v in enumerate(value))
    if len(set(levels)) != len(levels):
        raise source.error(key, "lists a severity level twice")
    return levels


def _level_key(source: PolicyFile, key: Key, name: Any) -> int:
    if isinstance(name, bool) or not isinstance(name, int) or name not in LEVELS:
        raise source.error(key + (str(name),), f"unknown severity level '{name}'; expected 1, 2 or 3")
    return name


def _offer_spec(source: PolicyFile, key: Key, value: Any, name: str,
                base: Optional[OfferSpec] = None) -> OfferSpec:
    """An offer from the catalogue, or `base` with the keys an offer list changes."""
    raw = source.mapping(key, {} if value is None and base is not None else value,
                         required=() if base is not None else ("remedy", "shipping", "text"),
                         optional=_OFFER_KEYS)

    def where(field: str) -> Key:
        # A key the entry did not give came from the catalogue: point at the entry.
        return key + (field,) if field in raw else key

    def pick(field: str, parse, default: Any) -> Any:
        if field in raw:
            return parse(key + (field,), raw[field])
        return getattr(base, field) if base is not None else default

    if "coupon_rate" in raw and "coupon_amount" in raw:
        raise source.error(key + ("coupon_amount",), "give coupon_rate or coupon_amount, not both")

    def months(k: Key, v: Any) -> int:
        return source.integer(k, v, 1, 120)

    def code(k: Key, v: Any) -> str:
        if not isinstance(v, str) or not _CODE.fullmatch(v):
            raise source.error(k, f"'{v}' is not a code (lower-case letters, digits and _)")
        return v

    def cap_counts(k: Key, v: Any) -> FrozenSet[str]:
        if not isinstance(v, list):
            raise source.error(k, "must be a list of refund, coupon (or [] for nothing)")
        for n, part in enumerate(v):
            _choice(source, k + (n,), part, COST_PARTS)
        return frozenset(v)

    def text(k: Key, v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise source.error(k, "must be a non-empty text")
        return check_template(source, k, v, _TEXT_FIELDS)

    refund = pick("refund", lambda k, v: _choice(source, k, v, REFUND_KINDS), "none")
    refund_rate = pick("refund_rate", lambda k, v: _rate(source, k, v), None)
    if "refund" in raw and refund != "share" and "refund_rate" not in raw:
        refund_rate = None  # a changed refund kind drops the catalogue's rate
    coupon_rate = pick("coupon_rate", lambda k, v: _rate(source, k, v), None)
    coupon_amount = pick("coupon_amount", lambda k, v: _amount(source, k, v), None)
    if "coupon_rate" in raw:
        coupon_amount = None  # one coupon per offer: the entry's replaces the catalogue's
    if "coupon_amount" in raw:
        coupon_rate = None
    spec = OfferSpec(
        name=name,
        code=pick("code", code, name),
        remedy=pick("remedy", lambda k, v: _choice(source, k, v, REMEDIES), None),
        refund=refund,
        refund_rate=refund_rate,
        coupon_rate=coupon_rate,
        coupon_amount=coupon_amount,
        warranty_months=pick("warranty_months", months, 0),
        guarantee_months=pick("guarantee_months", months, 0),
        trace_hours=pick("trace_hours", lambda k, v: source.integer(k, v, 1, 24 * 30), 0),
        shipping=pick("shipping", lambda k, v: _choice(source, k, v, SHIPPING), None),
        cap_counts=pick("cap_counts", cap_counts, frozenset(COST_PARTS)),
        text=pick("text", text, None),
        text_when_unknown=pick("text_when_unknown", lambda k, v: check_template(
            source, k, text(k, v), ()), None),
    )
    if spec.refund == "share" and spec.refund_rate is None:
        raise source.error(where("refund"), "refund: share needs refund_rate (a fraction of the order value)")
    if spec.refund != "share" and spec.refund_rate is not None:
        raise source.error(where("refund_rate"), f"refund_rate only goes with refund: share, not {spec.refund}")
    if spec.refund == "difference" and spec.text_when_unknown is None:
        raise source.error(key, "refund: difference needs text_when_unknown (a person checks the price)")
    if spec.refund != "difference" and spec.text_when_unknown is not None:
        raise source.error(where("text_when_unknown"), "text_when_unknown only goes with refund: difference")
    # Whatever the offer gives must be visible to the shopper who accepts it.
    shown = {
        "{shipping}": spec.shipping != "none",
        "{refund}": spec.refund not in ("none", "returnable_items"),
        "{warranty_months}": spec.warranty_months > 0,
        "{guarantee_months}": spec.guarantee_months > 0,
        "{trace_hours}": spec.trace_hours > 0,
    }
    if spec.refund == "returnable_items" and "{refund}" not in spec.text \
            and "{return_message}" not in spec.text:
        raise source.error(where("text"), "the text must show {refund} or {return_message}")
    for placeholder, needed in shown.items():
        if needed and placeholder not in spec.text:
            raise source.error(where("text"), f"the text must show {placeholder}, which this offer gives")
    return spec


def _offer_list(source: PolicyFile, key: Key, value: Any,
                catalogue: Mapping[str, OfferSpec]) -> Tuple[OfferSpec, ...]:
    if not isinstance(value, list) or not value:
        raise source.error(key, "must be a non-empty list of offers, best first")
    specs: List[OfferSpec] = []
    for position, entry in enumerate(value):
        entry_key = key + (position,)
        if isinstance(entry, str):
            name, changes = entry, None
        elif isinstance(entry, dict) and len(entry) == 1:
            name, changes = next(iter(entry.items()))
        else:
            raise source.error(entry_key, "must be an offer name, or {name: {key: value}} to change some keys")
        if name not in catalogue:
            raise source.error(entry_key + ((str(name),) if changes is not None else ()),
                               f"unknown offer '{name}'; the offers are {', '.join(catalogue)}")
        if any(spec.name == name for spec in specs):
            raise source.error(entry_key, f"offer '{name}' is listed twice")
        spec = catalogue[name] if isinstance(entry, str) else _offer_spec(
            source, entry_key + (name,), changes, name, base=catalogue[name])
        specs.append(spec)
    return tuple(specs)


def _tier_lists(source: PolicyFile, key: Key, value: Any, catalogue: Mapping[str, OfferSpec],
                need_default: bool) -> Dict[str, Tuple[OfferSpec, ...]]:
    lists = source.mapping(key, value, required=(DEFAULT,) if need_default else (),
                           optional=(DEFAULT,) + TIERS)
    return {tier: _offer_list(source, key + (tier,), lists[tier], catalogue) for tier in lists}


def _situation(source: PolicyFile, key: Key, value: Any,
               catalogue: Mapping[str, OfferSpec]) -> SituationTable:
    raw = source.mapping(key, value, required=("offers",), optional=("severities", "at_severity"))
    severities = (_levels(source, key + ("severities",), raw["severities"], allow_empty=False)
                  if "severities" in raw else LEVELS)
    at_severity: Dict[int, Dict[str, Tuple[OfferSpec, ...]]] = {}
    if "at_severity" in raw:
        rows = raw["at_severity"]
        if not isinstance(rows, dict):
            raise source.error(key + ("at_severity",), "must map a severity level to tier lists")
        for name, lists in rows.items():
            level = _level_key(source, key + ("at_severity",), name)
            if level not in severities:
                raise source.error(key + ("at_severity", str(name)), f"severity {level} is not one "
                                   f"of this situation's severities {list(severities)}")
            at_severity[level] = _tier_lists(source, key + ("at_severity", str(name)), lists,
                                             catalogue, need_default=False)
    return SituationTable(
        severities=tuple(sorted(severities)),
        offers=_tier_lists(source, key + ("offers",), raw["offers"], catalogue, need_default=True),
        at_severity=at_severity,
    )






def _rule(source: PolicyFile, key: Key, value: Any, gap: int,
          situations: Mapping[str, SituationTable]) -> SituationRule:
    raw = source.mapping(key, value, optional=("situation", "by_severity", "categories", "words",
                                               "order_status"))
    if ("situation" in raw) == ("by_severity" in raw):
        raise source.error(key, "give either situation or by_severity")
    situation = by_severity = None
    if "situation" in raw:
        situation = _choice(source, key + ("situation",), raw["situation"], SITUATIONS)
        if situations[situation].severities != LEVELS:
            raise source.error(key + ("situation",),
                               f"'{situation}' is only offered at severity "
                               f"{', '.join(map(str, situations[situation].severities))}; "
                               "use by_severity to name a situation for every level")
    else:
        rows = raw["by_severity"]
        if not isinstance(rows, dict):
            raise source.error(key + ("by_severity",), "must map each severity level 1, 2, 3 to a situation")
        by_severity = {}
        for name, answer in rows.items():
            level = _level_key(source, key + ("by_severity",), name)
            where = key + ("by_severity", str(name))
            by_severity[level] = _choice(source, where, answer, SITUATIONS)
            if level not in situations[answer].severities:
                raise source.error(where, f"'{answer}' is not offered at severity {level}")
        missing = [level for level in LEVELS if level not in by_severity]
        if missing:
            raise source.error(key + ("by_severity",), f"missing severity level {missing[0]}")
    return SituationRule(
        situation=situation,
        by_severity=by_severity,
        categories=frozenset(source.choices(key + ("categories",), raw["categories"], CATEGORIES))
        if "categories" in raw else frozenset(),
        words=terms_from(source, key + ("words",), raw["words"], gap) if "words" in raw else (),
        order_status=frozenset(source.choices(key + ("order_status",), raw["order_status"], STATUSES))
        if "order_status" in raw else frozenset(),
    )


_TOP_KEYS = ("auto_approval", "shipping_phrases", "extra_coupon_phrase", "offers", "situations",
             "situation_matching", "returns")


def load_compensation_rules(path: Union[str, Path, None] = None) -> CompensationRules:
    """Read and check a compensation file; the default file is read once and cached."""
    if path is None:
        return compensation_rules()
    source = PolicyFile(path)
    root = source.mapping((), source.data, required=_TOP_KEYS)

    approval = source.mapping(("auto_approval",), root["auto_approval"],
                              required=("cap", "person_decides_at_severity"))
    cap = _amount(source, ("auto_approval", "cap"), approval["cap"])
    person_decides = _levels(source, ("auto_approval", "person_decides_at_severity"),
                             approval["person_decides_at_severity"], allow_empty=True)

    phrases = source.mapping(("shipping_phrases",), root["shipping_phrases"], required=SHIPPING)
    for mode in SHIPPING:
        phrase = phrases[mode]
        if not isinstance(phrase, str) or (mode != "none" and not phrase.strip()):
            raise source.error(("shipping_phrases", mode), "must be a non-empty text")
    extra = check_template(source, ("extra_coupon_phrase",), root["extra_coupon_phrase"],
                           ("coupon", "coupon_rate"))
    if "{coupon}" not in extra:
        raise source.error(("extra_coupon_phrase",), "the text must show {coupon}")

    offers_raw = root["offers"]
    if not isinstance(offers_raw, dict) or not offers_raw:
        raise source.error(("offers",), "must map offer names to offers")
    catalogue: Dict[str, OfferSpec] = {}
    for name, value in offers_raw.items():
        if not isinstance(name, str) or not _CODE.fullmatch(name):
            raise source.error(("offers", str(name)), f"'{name}' is not a name (lower-case letters, digits and _)")
        catalogue[name] = _offer_spec(source, ("offers", name), value, name)

    situations_raw = source.mapping(("situations",), root["situations"], required=SITUATIONS)
    situations = {name: _situation(source, ("situations", name), situations_raw[name], catalogue)
                  for name in SITUATIONS}

    matching = source.mapping(("situation_matching",), root["situation_matching"],
                              required=("word_gap", "negation_prefixes", "rules"))
    gap = source.integer(("situation_matching", "word_gap"), matching["word_gap"], 0, 20)
    negation = tuple(sorted(dict.fromkeys(prepare(w) for w in source.strings(
        ("situation_matching", "negation_prefixes"), matching["negation_prefixes"])), key=len, reverse=True))
    rules_key: Key = ("situation_matching", "rules")
    rules_raw = matching["rules"]
    if not isinstance(rules_raw, list) or not rules_raw:
        raise source.error(rules_key, "must be a non-empty list of rules")
    rules = tuple(_rule(source, rules_key + (n,), r, gap, situations) for n, r in enumerate(rules_raw))
    for category in CATEGORIES:
        # situation_of must always have an answer; a category only reached by words would
        # leave the shopper with none when the words are not there.
        if not any((not r.categories or category in r.categories) and not r.words and not r.order_status
                   for r in rules):
            raise source.error(rules_key, f"no rule without words or order_status covers category "
                               f"'{category}'; end the list with one")

    return CompensationRules(
        source=source.path,
        cap=cap,
        person_decides_at=frozenset(person_decides),
        shipping_phrases=dict(phrases),
        extra_coupon_phrase=extra,
        offers=catalogue,
        situations=situations,
        negation_prefixes=negation,
        situation_rules=rules,
        returns=parse_return_rules(source, ("returns",), root["returns"]),
    )


@lru_cache(maxsize=1)
def compensation_rules() -> CompensationRules:
    """The shop's table from `compensation.yml`, read once; call at start-up to fail early."""
    return load_compensation_rules(policy_file(COMPENSATION_FILE.name))


# ------------------------------------------------------------------------ situations

def _found(term: Term, text: str, negation: Tuple[str, ...]) -> bool:
    for match in term.pattern.finditer(text):
        if not any(text[:match.start()].endswith(prefix) for prefix in negation):
            return True
    return False


def situation_of(category: str, severity: int, text: str, order: Any = None, *,
                 rules: Optional[CompensationRules] = None) -> str:
    """The row of the table for a complaint of `category` at `severity` in the shopper's words.

    `order` (anything with `status`) lets a rule depend on the order: a delivered parcel
    the shopper says never arrived is lost, not late.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown complaint category '{category}', expected one of {CATEGORIES}")
    if severity not in LEVELS:
        raise ValueError(f"severity must be 1, 2 or 3, got {severity!r}")
    rules = rules or compensation_rules()
    plain = prepare(text or "")
    status = getattr(order, "status", None)
    for rule in rules.situation_rules:
        if rule.categories and category not in rule.categories:
            continue
        if rule.order_status and status not in rule.order_status:
            continue
        if rule.words and not any(_found(t, plain, rules.negation_prefixes) for t in rule.words):
            continue
        return rule.answer(severity)
    raise AssertionError("the loaded rules cover every category")  # checked at load


# ---------------------------------------------------------------------------- prices

_NUMBER = re.compile(r"(?<![\d.])(\d{1,7}(?:\.\d{1,2})?)(?!\d)")
_CURRENCY_BEFORE = re.compile(r"[¥￥]\s*$")
_YUAN_AFTER = re.compile(r"\s*(元|块钱|块|rmb|人民币)", re.IGNORECASE)
_JIAO_AFTER = re.compile(r"块(\d)(?!\d)")
# Words after which a bare number is a price: 说好的99, 价格是99, 扣了129.
_CUE_BEFORE = re.compile(r"(说好的|说好|说是|价格|价钱|标价|只要|才|到手价|到手|卖|原价|主播说|付了|"
                         r"扣了|收了|花了|拍下|要)(是|为|了|的|:)?\s*$")
# Words after which a number is what was overpaid, not a price: 多付了20块, 贵了20, 差价20.
# 付了 alone is a cue for a price, so these are checked first.
_OVERPAID_BEFORE = re.compile(r"(多付|多扣|多收|多花|多给|贵了|亏了|差价|差了)(了|是|为|的|:)?\s*$")
# ...unless a unit says it is something else: 才3天, 要2件, 说好的3号.
_NOT_MONEY_AFTER = re.compile(r"\s*(天|号|月|日|年|件|个|次|点|小时|分|岁|%|折|码|cm|米|克|g|ml|条|瓶|"
                              r"盒|包|双|套|单|位|楼|层|斤)", re.IGNORECASE)


def stated_prices(text: str) -> Tuple[Decimal, ...]:
    """Prices the shopper states, in order: ¥99, 99元, 99块9, 说好的99; not 3天, order
    numbers or what was overpaid (多付了20块, see stated_overpayments)."""
    return _amounts(text, overpaid=False)


def stated_overpayments(text: str) -> Tuple[Decimal, ...]:
    """Amounts the shopper says they paid too much: 多付了20块, 多扣了30, 贵了15元."""
    return _amounts(text, overpaid=True)


def _amounts(text: str, overpaid: bool) -> Tuple[Decimal, ...]:
    plain = prepare(text or "")
    prices: List[Decimal] = []
    consumed = 0
    for match in _NUMBER.finditer(plain):
        if match.start() < consumed:
            continue
        before, after = plain[:match.start()], plain[match.end():]
        amount = Decimal(match.group(1))
        jiao = _JIAO_AFTER.match(after)
        if jiao:  # 129块9 is 129.9, and the 9 is not a price of its own
            amount += Decimal(jiao.group(1)) / 10
            consumed = match.end() + jiao.end()
        if bool(_OVERPAID_BEFORE.search(before)) != overpaid:
            continue
        if _CURRENCY_BEFORE.search(before) or _YUAN_AFTER.match(after) or (
                (overpaid or _CUE_BEFORE.search(before)) and not _NOT_MONEY_AFTER.match(after)):
            prices.append(_cents(amount))
    return tuple(dict.fromkeys(prices))


def promised_price_in(text: str, order: Any) -> Optional[Decimal]:
    """The one stated price that is below what an item cost, if there is exactly one.

    The prices the order shows (an item's price, the total) are what the shopper paid,
    not the promise; two different lower prices are ambiguous and left to a person.
    """
    paid = {item.price for item in order.items} | {order.amount}
    candidates = [p for p in stated_prices(text)
                  if p not in paid and any(p < item.price for item in order.items)]
    if candidates:
        return candidates[0] if len(candidates) == 1 else None
    # "多付了20块" on a one-item order: the promise was the price less what was overpaid.
    # With several items or units it is unclear what the amount is of: left to a person.
    overpaid = stated_overpayments(text)
    items = list(order.items)
    if len(overpaid) == 1 and len(items) == 1 and items[0].quantity == 1 and overpaid[0] < items[0].price:
        return _cents(items[0].price - overpaid[0])
    return None


def _difference(order: Any, promised: Decimal) -> Optional[Tuple[Decimal, Decimal]]:
    """(refund, unit price paid) when exactly one line of the order costs more than promised."""
    lines = [item for item in order.items if item.price > promised]
    if len(lines) != 1:
        return None
    line = lines[0]
    return _cents((line.price - promised) * line.quantity), line.price


# ---------------------------------------------------------------------------- offers

def auto_approval_cap(order: Any, *, rules: Optional[CompensationRules] = None) -> Decimal:
    """What the bot may grant on its own for `order`: the cap or the order value, the lower."""
    rules = rules or compensation_rules()
    return _cents(min(rules.cap, order.amount))


def _returnable_value(order: Any) -> Decimal:
    return sum((item.subtotal for item in order.items if item.returnable), Decimal("0"))


def _build(spec: OfferSpec, order: Any, rules: CompensationRules, cap: Decimal,
           person_decides: bool, difference: Optional[Tuple[Decimal, Decimal]],
           promised: Optional[Decimal], return_message: str, return_refund: Optional[Decimal]) -> Offer:
    unknown_price = spec.refund == "difference" and difference is None
    refund = {
        "none": Decimal("0"),
        "order": order.amount,
        "share": order.amount * (spec.refund_rate or 0),
        "difference": difference[0] if difference else Decimal("0"),
        "returnable_items": return_refund if return_refund is not None else _returnable_value(order),
    }[spec.refund]
    refund = _cents(refund)
    coupon = _cents(order.amount * spec.coupon_rate if spec.coupon_rate is not None
                    else spec.coupon_amount or Decimal("0"))
    cost = _cents(sum(((refund if "refund" in spec.cap_counts else _ZERO),
                       (coupon if "coupon" in spec.cap_counts else _ZERO)), Decimal("0")))
    if unknown_price:
        text = spec.text_when_unknown or ""
    else:
        text = spec.text.format(
            refund=_yuan(refund), coupon=_yuan(coupon),
            coupon_rate=_percent(spec.coupon_rate) if spec.coupon_rate is not None else "",
            refund_rate=_percent(spec.refund_rate) if spec.refund_rate is not None else "",
            warranty_months=spec.warranty_months, guarantee_months=spec.guarantee_months,
            trace_hours=spec.trace_hours, shipping=rules.shipping_phrases[spec.shipping],
            promised_price=_yuan(promised) if promised is not None else "",
            paid_price=_yuan(difference[1]) if difference else "",
            return_message=return_message,
        )
        if coupon > 0 and "{coupon}" not in spec.text:
            text += rules.extra_coupon_phrase.format(
                coupon=_yuan(coupon),
                coupon_rate=_percent(spec.coupon_rate) if spec.coupon_rate is not None else "")
    return Offer(
        code=spec.code,
        remedy=spec.remedy,
        refund=refund,
        coupon=coupon,
        warranty_months=spec.warranty_months,
        shop_pays_shipping=spec.shipping,
        text=text,
        cost=cost,
        needs_approval=person_decides or unknown_price or cost > cap,
    )


def offers_for(situation: str, order: Any, *, severity: int, tier: Optional[str] = None,
               promised_price: Optional[Decimal] = None, now: Optional[datetime] = None,
               text: Optional[str] = None, rules: Optional[CompensationRules] = None) -> List[Offer]:
    """The offers for `situation` on `order`, best first, with amounts from the order.

    `tier` defaults to the order's. For price_difference, `promised_price` (per unit) or
    else a price stated in `text` gives the difference; unknown, the one offer says a
    person checks the live-room record and needs approval. For no_reason_return, `now`
    (default: the clock) decides the seven-day window; a refused return gives one offer
    coded REFUSED_RETURN whose text is the refusal and the alternatives.
    """
    rules = rules or compensation_rules()
    if situation not in SITUATIONS:
        raise ValueError(f"unknown situation '{situation}', expected one of {SITUATIONS}")
    table = rules.situations[situation]
    if severity not in table.severities:
        raise ValueError(f"'{situation}' is offered at severity {list(table.severities)}, not "
                         f"{severity!r}; situation_of picks the row for a severity")
    tier = tier or order.tier
    if tier not in TIERS:
        raise ValueError(f"unknown tier '{tier}', expected one of {TIERS}")
    specs = table.specs(tier, severity)

    return_message, return_refund = "", None
    if situation == "no_reason_return":
        now = now or datetime.now(timezone.utc)
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
        decision = no_reason_return(order, today=now.astimezone(rules.returns.timezone).date(),
                                    rules=rules.returns)
        if not decision.eligible:
            return [Offer(code=REFUSED_RETURN, remedy="refund", refund=_ZERO, coupon=_ZERO,
                          warranty_months=0, shop_pays_shipping="none", text=decision.message,
                          cost=_ZERO, needs_approval=False)]
        return_message, return_refund = decision.message, decision.refund

    if promised_price is None and text:
        promised_price = promised_price_in(text, order)
    difference = None
    if promised_price is not None:
        difference = _difference(order, Decimal(promised_price))
    cap = auto_approval_cap(order, rules=rules)
    person_decides = severity in rules.person_decides_at
    return [_build(spec, order, rules, cap, person_decides, difference,
                   Decimal(promised_price) if promised_price is not None else None,
                   return_message, return_refund)
            for spec in specs]
