"""What the complaint form reads in the shopper's own words: remedy wanted, whether
photos are needed, and a stated reason for not sending any. Words live in intake.yml."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional, Tuple

import yaml

from bot.categories import CATEGORIES
from bot.nlu.text_normalizer import normalize_text

RULES_FILE = Path(__file__).with_name("intake.yml")
REMEDIES = ("refund", "exchange", "repair", "compensation")
NO_PREFERENCE = "no_preference"
REMEDY_NAMES_ZH = {
    "refund": "退款",
    "exchange": "换货",
    "repair": "维修",
    "compensation": "补偿",
    NO_PREFERENCE: "听从店铺安排",
}


class IntakeConfigError(ValueError):
    """intake.yml is missing something or has the wrong shape."""


@dataclass(frozen=True)
class IntakeRules:
    remedies: Dict[str, Tuple[str, ...]]
    no_preference: Tuple[str, ...]
    photos_required_categories: Tuple[str, ...]
    transit_damage_words: Tuple[str, ...]
    cannot_photograph: Tuple[str, ...]
    rating_words: Tuple[Tuple[str, int], ...]


def _words(data: dict, key: str, where: str) -> Tuple[str, ...]:
    value = data.get(key)
    if not isinstance(value, list) or not value or not all(isinstance(w, str) and w for w in value):
        raise IntakeConfigError(f"{where}: '{key}' must be a non-empty list of words")
    return tuple(normalize_text(w) for w in value)


def parse_rules(data: object, where: str = RULES_FILE.name) -> IntakeRules:
    if not isinstance(data, dict):
        raise IntakeConfigError(f"{where}: expected a mapping at the top level")
    known = {"remedies", "no_preference", "photos_required_categories",
             "transit_damage_words", "cannot_photograph", "rating_words"}
    unknown = set(data) - known
    if unknown:
        raise IntakeConfigError(f"{where}: unknown key(s) {sorted(unknown)}")
    remedies = data.get("remedies")
    if not isinstance(remedies, dict) or set(remedies) != set(REMEDIES):
        raise IntakeConfigError(f"{where}: 'remedies' must list words for exactly {list(REMEDIES)}")
    categories = _words(data, "photos_required_categories", where)
    if set(categories) - set(CATEGORIES):
        raise IntakeConfigError(f"{where}: photos_required_categories must be among {list(CATEGORIES)}")
    return IntakeRules(
        remedies={name: _words(remedies, name, f"{where}: remedies") for name in REMEDIES},
        no_preference=_words(data, "no_preference", where),
        photos_required_categories=categories,
        transit_damage_words=_words(data, "transit_damage_words", where),
        cannot_photograph=_words(data, "cannot_photograph", where),
        rating_words=_rating_words(data.get("rating_words"), where),
    )


def _rating_words(value: object, where: str) -> Tuple[Tuple[str, int], ...]:
    pairs = []
    for entry in value if isinstance(value, list) else [None]:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
                and entry[0] and entry[1] in (1, 2, 3, 4, 5)):
            raise IntakeConfigError(f"{where}: 'rating_words' must be a list of [word, 1-5] pairs, got {entry!r}")
        pairs.append((normalize_text(entry[0]), entry[1]))
    return tuple(pairs)


@lru_cache(maxsize=1)
def intake_rules() -> IntakeRules:
    with RULES_FILE.open(encoding="utf-8") as f:
        return parse_rules(yaml.safe_load(f))


# "不要退款，换货就行": a remedy right after one of these is declined, not wanted.
NEGATIONS = ("不要", "不想", "不用", "不需要", "别", "不")


def _wanted(word: str, text: str) -> bool:
    start = text.find(word)
    while start >= 0:
        if not any(text[:start].endswith(n) for n in NEGATIONS):
            return True
        start = text.find(word, start + 1)
    return False


def wanted_remedy(text: str, rules: Optional[IntakeRules] = None) -> Optional[str]:
    """The remedy the shopper asks for in `text`, `no_preference`, or None if unsaid."""
    rules = rules or intake_rules()
    words = normalize_text(text)
    for name in REMEDIES:
        if any(_wanted(w, words) for w in rules.remedies[name]):
            return name
    if any(w in words for w in rules.no_preference):
        return NO_PREFERENCE
    return None


def photos_required(category: str, text: str, rules: Optional[IntakeRules] = None) -> bool:
    """Quality complaints always need photos; others only for goods damaged in transit."""
    rules = rules or intake_rules()
    if category in rules.photos_required_categories:
        return True
    words = normalize_text(text)
    return category == "logistics" and any(w in words for w in rules.transit_damage_words)


def cannot_photograph(text: str, rules: Optional[IntakeRules] = None) -> bool:
    """The shopper says they cannot send a photo (没法拍, 已经扔了 …)."""
    rules = rules or intake_rules()
    words = normalize_text(text)
    return any(w in words for w in rules.cannot_photograph)


def rating_of(text: str, rules: Optional[IntakeRules] = None) -> Optional[int]:
    """A 1–5 satisfaction rating from "4", "4分", "５" or words such as 不满意; else None."""
    rules = rules or intake_rules()
    words = normalize_text(text)
    digits = [c for c in words if c.isdigit()]
    if len(digits) == 1 and digits[0] in "12345":
        return int(digits[0])
    for word, rating in rules.rating_words:
        if word in words:
            return rating
    return None
