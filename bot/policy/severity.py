"""Grade a complaint's severity (问题等级) from the shopper's words, entities and order.

The words and thresholds live in `severity.yml` (PRODUCT.md "Severity"); this module
only matches them. Level 1 means a person takes over now, so hazards and threats are
looked for in every category; the level-2 words are per category because the same words
mean different things there (多收 is a charge, not a defect).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, FrozenSet, List, Mapping, Optional, Sequence, Tuple, Union

from bot.categories import CATEGORIES
from bot.policy.errors import PolicyConfigError
from bot.policy.location import policy_file
from bot.policy.policy_yaml import Key, PolicyFile
from bot.policy.terms import WILDCARD, Term, prepare, terms_from

SEVERITY_FILE = Path(__file__).with_name("severity.yml")
LEVELS = (1, 2, 3)
# Masked phrases are overwritten with a character that is neither a word character (so a
# wildcard cannot reach across it) nor part of any listed word.
_MASK = "#"

__all__ = [
    "LEVELS", "SEVERITY_FILE", "PolicyConfigError", "Severity", "SeverityRules", "grade",
    "load_severity_rules", "severity_rules", "stated_wait_days",
]


@dataclass(frozen=True)
class Severity:
    level: int
    # Machine codes, most serious first: "hazard:冒烟", "public_threat:12315",
    # "unusable:坏了", "order:delivered_not_received", "long_wait:not_shipped",
    # "default:logistics".
    reasons: Tuple[str, ...]
    public_threat: bool = False
    hazard: bool = False

    @property
    def needs_human_now(self) -> bool:
        return self.level == 1




@dataclass(frozen=True)
class Negation:
    prefixes: Tuple[str, ...]
    fillers: Tuple[str, ...]
    questions: Tuple[str, ...]

    def negates(self, text: str, start: int) -> bool:
        """Whether the word found at `text[start:]` is negated by what directly precedes it."""
        before = text[:start]
        # The word itself, then through at most two fillers (没有再出现冒烟).
        for _ in range(3):
            # 是不是 ends in 不是 and 有没有 in 没有: test the question forms first.
            if any(before.endswith(q) for q in self.questions):
                return False
            if any(before.endswith(p) for p in self.prefixes):
                return True
            filler = next((f for f in self.fillers if before.endswith(f)), None)
            if filler is None:
                return False
            before = before[: -len(filler)]
        return False


@dataclass(frozen=True)
class SeverityRules:
    source: Path
    ignore: Tuple[Term, ...]
    negation: Negation
    hazards: Tuple[Term, ...]
    food_hazards: Tuple[Term, ...]
    food_words: Tuple[str, ...]
    threats: Tuple[Term, ...]
    unusable_everywhere: Tuple[Term, ...]
    unusable_by_category: Mapping[str, Tuple[Term, ...]]
    default_level: Mapping[str, int]
    order_categories: FrozenSet[str]
    not_received: Tuple[Term, ...]
    not_shipped: Tuple[Term, ...]
    in_transit_days: int
    unshipped_days: int

    def unusable_for(self, category: str) -> Tuple[Term, ...]:
        return self.unusable_everywhere + self.unusable_by_category.get(category, ())

    @property
    def negatable_terms(self) -> Tuple[Term, ...]:
        return (self.hazards + self.food_hazards + self.unusable_everywhere
                + tuple(t for terms in self.unusable_by_category.values() for t in terms)
                + self.not_received + self.not_shipped)


# ----------------------------------------------------------------------------- loading

_TOP_KEYS = ("matching", "negation", "hazard", "public_threat", "unusable", "default_level",
             "order_rules")








def _plain_words(source: PolicyFile, key: Key, value: Any) -> Tuple[str, ...]:
    words = tuple(dict.fromkeys(prepare(w) for w in source.strings(key, value)))
    for position, word in enumerate(words):
        if WILDCARD in word:
            raise source.error(key + (position,), f"'{word}': no '{WILDCARD}' in this list")
    return words


def load_severity_rules(path: Union[str, Path, None] = None) -> SeverityRules:
    """Read and check a severity file; the default file is read once and cached."""
    if path is None:
        return _default_rules()
    source = PolicyFile(path)
    root = source.mapping((), source.data, required=_TOP_KEYS)

    matching = source.mapping(("matching",), root["matching"],
                              required=("wildcard_gap",), optional=("ignore_phrases",))
    gap = source.integer(("matching", "wildcard_gap"), matching["wildcard_gap"], 0, 20)
    ignore = (terms_from(source, ("matching", "ignore_phrases"), matching["ignore_phrases"], gap)
              if "ignore_phrases" in matching else ())

    neg = source.mapping(("negation",), root["negation"], required=("prefixes",),
                         optional=("fillers", "questions"))
    negation = Negation(
        # Longest first so that 并没有 is tried before 没有; for endswith() the order only
        # matters for readability, but it keeps the behaviour obvious.
        prefixes=tuple(sorted(_plain_words(source, ("negation", "prefixes"), neg["prefixes"]),
                              key=len, reverse=True)),
        fillers=tuple(sorted(_plain_words(source, ("negation", "fillers"), neg["fillers"]),
                             key=len, reverse=True)) if "fillers" in neg else (),
        questions=_plain_words(source, ("negation", "questions"), neg["questions"])
        if "questions" in neg else (),
    )

    hazard = source.mapping(("hazard",), root["hazard"], required=("words",), optional=("when_food",))
    hazards = terms_from(source, ("hazard", "words"), hazard["words"], gap)
    food_hazards: Tuple[Term, ...] = ()
    food_words: Tuple[str, ...] = ()
    if "when_food" in hazard:
        food = source.mapping(("hazard", "when_food"), hazard["when_food"],
                              required=("words", "food_words"))
        food_hazards = terms_from(source, ("hazard", "when_food", "words"), food["words"], gap)
        food_words = _plain_words(source, ("hazard", "when_food", "food_words"), food["food_words"])

    threat = source.mapping(("public_threat",), root["public_threat"], required=("words",))
    threats = terms_from(source, ("public_threat", "words"), threat["words"], gap)

    unusable = source.mapping(("unusable",), root["unusable"],
                              optional=("all_categories",) + CATEGORIES)
    everywhere = (terms_from(source, ("unusable", "all_categories"), unusable["all_categories"], gap)
                  if "all_categories" in unusable else ())
    by_category = {c: terms_from(source, ("unusable", c), unusable[c], gap)
                   for c in CATEGORIES if c in unusable}

    defaults = source.mapping(("default_level",), root["default_level"], required=CATEGORIES)
    default_level = {c: source.integer(("default_level", c), defaults[c], min(LEVELS), max(LEVELS))
                     for c in CATEGORIES}

    orders = source.mapping(("order_rules",), root["order_rules"],
                            required=("categories", "not_received_words", "not_shipped_words",
                                      "in_transit_days", "unshipped_days"))
    order_categories = frozenset(source.choices(("order_rules", "categories"),
                                                orders["categories"], CATEGORIES))

    return SeverityRules(
        source=source.path,
        ignore=ignore,
        negation=negation,
        hazards=hazards,
        food_hazards=food_hazards,
        food_words=food_words,
        threats=threats,
        unusable_everywhere=everywhere,
        unusable_by_category=by_category,
        default_level=default_level,
        order_categories=order_categories,
        not_received=terms_from(source, ("order_rules", "not_received_words"),
                            orders["not_received_words"], gap),
        not_shipped=terms_from(source, ("order_rules", "not_shipped_words"),
                           orders["not_shipped_words"], gap),
        in_transit_days=source.integer(("order_rules", "in_transit_days"),
                                       orders["in_transit_days"], 1, 365),
        unshipped_days=source.integer(("order_rules", "unshipped_days"),
                                      orders["unshipped_days"], 1, 365),
    )


@lru_cache(maxsize=1)
def _default_rules() -> SeverityRules:
    return load_severity_rules(policy_file(SEVERITY_FILE.name))


def severity_rules() -> SeverityRules:
    """The shop's rules from `severity.yml`, read once; call at start-up to fail early."""
    return _default_rules()


# ---------------------------------------------------------------------------- matching

def _mask(text: str, rules: SeverityRules) -> str:
    for term in rules.ignore:
        text = term.pattern.sub(lambda m: _MASK * len(m.group(0)), text)
    return text


class _Scan:
    """One text, with the spans where a negatable word is negated.

    Words overlap (疹子 in 起疹子, 中毒 in 食物中毒): in 没有起疹子 only the longer word
    follows the negation, so a match inside a negated match is negated too.
    """

    def __init__(self, text: str, rules: SeverityRules, negate: bool) -> None:
        self.text = text
        self.negation = rules.negation if negate else None
        self.negated_spans: List[Tuple[int, int]] = []
        if self.negation is not None:
            for term in rules.negatable_terms:
                for match in term.pattern.finditer(text):
                    if self.negation.negates(text, match.start()):
                        self.negated_spans.append(match.span())

    def _negated(self, start: int, end: int) -> bool:
        return any(s <= start and end <= e for s, e in self.negated_spans)

    def found(self, terms: Sequence[Term], negatable: bool = True) -> List[str]:
        """The words of `terms` that occur at least once without a negation."""
        found = []
        for term in terms:
            for match in term.pattern.finditer(self.text):
                if not negatable or not self._negated(*match.span()):
                    found.append(term.word)
                    break
        return found


def _is_food(text: str, entities: Sequence[Mapping[str, Any]], rules: SeverityRules) -> bool:
    products = [prepare(str(e.get("value") or "")) for e in entities if e.get("entity") == "product"]
    return any(word in place for word in rules.food_words for place in [text, *products])


_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
_UNIT_DAYS = {"天": 1, "周": 7, "星期": 7, "礼拜": 7, "月": 30}
# 3天, 十多天, 两个星期, 半个月, 一个多月. A bare 3月 is a date (March), not a wait, so a
# month needs 个.
_WAIT = re.compile(r"(\d+|[零一二两三四五六七八九十]+|半)(多|来)?(个)?(多)?(天|周|星期|礼拜|月)")


def _chinese_number(text: str) -> Optional[int]:
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, units = text.partition("十")
        if len(tens) > 1 or len(units) > 1:
            return None
        return _CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(units, 0)
    # 两三天, 七八天: a range; the upper end is what the shopper feels.
    return _CN_DIGITS.get(text[-1])


def stated_wait_days(text: str) -> float:
    """The longest wait the shopper states in `text` (normalised), in days; 0 if none."""
    longest = 0.0
    for match in _WAIT.finditer(text):
        number, _, ge, _, unit = match.groups()
        if unit == "月" and not ge:
            continue
        days = _UNIT_DAYS[unit] * (0.5 if number == "半" else (_chinese_number(number) or 0))
        longest = max(longest, days)
    return longest


def _field(order: object, name: str) -> Any:
    if isinstance(order, Mapping):
        return order.get(name)
    return getattr(order, name, None)


def _days_since(order: object, name: str, now: datetime) -> Optional[float]:
    moment = _field(order, name)
    if moment is None:
        return None
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"order.{name} must be a timezone-aware datetime, got {moment!r}")
    return (now - moment) / timedelta(days=1)


def _order_reasons(category: str, scan: _Scan, order: object | None, now: datetime,
                   rules: SeverityRules) -> List[str]:
    if category not in rules.order_categories:
        return []
    not_received = bool(scan.found(rules.not_received))
    not_shipped = bool(scan.found(rules.not_shipped))
    reasons = []
    if order is not None:
        status = _field(order, "status")
        if status == "delivered" and not_received:
            reasons.append("order:delivered_not_received")
        if status == "shipped" and _field(order, "delivered_at") is None:
            days = _days_since(order, "shipped_at", now)
            if days is not None and days >= rules.in_transit_days:
                reasons.append("order:in_transit_too_long")
        if status == "paid" and _field(order, "shipped_at") is None:
            days = _days_since(order, "paid_at", now)
            if days is not None and days >= rules.unshipped_days:
                reasons.append("order:not_shipped_too_long")
    if not_received or not_shipped:
        waited = stated_wait_days(scan.text)
        if not_received and waited >= rules.in_transit_days:
            reasons.append("long_wait:not_received")
        if not_shipped and waited >= rules.unshipped_days:
            reasons.append("long_wait:not_shipped")
    return reasons


def grade(
    category: str,
    text: str,
    entities: Sequence[Mapping[str, Any]] = (),
    order: object | None = None,
    *,
    now: Optional[datetime] = None,
    rules: Optional[SeverityRules] = None,
) -> Severity:
    """Grade a complaint of `category` in the shopper's raw words `text`.

    `entities` are Rasa entity dicts; a `defect` entity whose value is a hazard or level-2
    word counts even when the shopper's words differ (a synonym mapped to it), unless the
    value is in the text, where the text (and its negation) decides. `order` is anything
    with `status`, `paid_at`, `shipped_at`, `delivered_at`; `now` defaults to the clock.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown complaint category '{category}', expected one of {CATEGORIES}")
    rules = rules or severity_rules()
    now = now or datetime.now(timezone.utc)
    plain = prepare(text or "")
    masked = _mask(plain, rules)
    food = _is_food(plain, entities, rules)

    def scan(where: str, negate: bool) -> Tuple[_Scan, List[str], List[str], List[str]]:
        words = _Scan(where, rules, negate)
        hazards = words.found(rules.hazards)
        if food:
            hazards += words.found(rules.food_hazards)
        threats = words.found(rules.threats, negatable=False)
        return words, hazards, threats, words.found(rules.unusable_for(category))

    words, hazards, threats, unusable = scan(masked, negate=True)
    for entity in entities:
        if entity.get("entity") != "defect":
            continue
        value = _mask(prepare(str(entity.get("value") or "")), rules)
        if not value or value in masked:
            continue
        _, more_hazards, _, more_unusable = scan(value, negate=False)
        hazards += more_hazards
        unusable += more_unusable

    order_reasons = _order_reasons(category, words, order, now, rules)
    reasons = tuple(dict.fromkeys(
        [f"hazard:{w}" for w in hazards] + [f"public_threat:{w}" for w in threats]
        + [f"unusable:{w}" for w in unusable] + order_reasons))
    if hazards or threats:
        level = 1
    elif unusable or order_reasons:
        level = 2
    else:
        level = rules.default_level[category]
        reasons = (f"default:{category}",)
    return Severity(level=level, reasons=reasons, public_threat=bool(threats), hazard=bool(hazards))
