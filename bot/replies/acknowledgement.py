"""Acknowledge a complaint: situational empathy, what happens next and by when.

Wording lives in `acknowledgements.yml`; this module only chooses and fills it.
"""
from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from bot.categories import CATEGORIES

REPLIES_FILE = Path(__file__).with_name("acknowledgements.yml")
DEFAULT_ITEM = "商品"


class ReplyConfigError(ValueError):
    """acknowledgements.yml is missing something a reply needs."""


@dataclass(frozen=True)
class Situation:
    name: str
    cues: Tuple[str, ...]
    replies: Tuple[str, ...]


@dataclass(frozen=True)
class CategoryReplies:
    with_item: Tuple[str, ...]
    generic: Tuple[str, ...]
    next_step: str
    # What went wrong within the category (logistics: late, damaged in transit, the
    # courier's manner …), each with its own empathy; checked in order after the
    # shopper's situations.
    topics: Tuple[Situation, ...] = ()


@dataclass(frozen=True)
class ReplyBook:
    situations: Tuple[Situation, ...]
    categories: Dict[str, CategoryReplies]
    # Said instead of the usual next step when a person must take over (severity 1).
    escalation_notice: str


@dataclass(frozen=True)
class Acknowledgement:
    text: str
    situation: Optional[str]


def _strings(value: object, where: str) -> Tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ReplyConfigError(f"{REPLIES_FILE.name}: {where} must be a non-empty list of texts")
    return tuple(value)


def parse_reply_book(data: dict) -> ReplyBook:
    try:
        situations = tuple(
            Situation(name, _strings(s["cues"], f"situations.{name}.cues"),
                      _strings(s["replies"], f"situations.{name}.replies"))
            for name, s in data["situations"].items()
        )
        categories = {}
        for category in CATEGORIES:
            c = data["categories"][category]
            categories[category] = CategoryReplies(
                _strings(c["with_item"], f"categories.{category}.with_item"),
                _strings(c["generic"], f"categories.{category}.generic"),
                str(c["next_step"]),
                tuple(Situation(name, _strings(t["cues"], f"categories.{category}.topics.{name}.cues"),
                                _strings(t["replies"], f"categories.{category}.topics.{name}.replies"))
                      for name, t in (c.get("topics") or {}).items()),
            )
        return ReplyBook(situations, categories, str(data["escalation_notice"]))
    except (KeyError, TypeError, AttributeError) as error:
        raise ReplyConfigError(f"{REPLIES_FILE.name}: missing or malformed {error}") from error


@lru_cache(maxsize=1)
def reply_book() -> ReplyBook:
    return parse_reply_book(yaml.safe_load(REPLIES_FILE.read_text(encoding="utf-8")))


def find_situation(text: str, book: ReplyBook) -> Optional[Situation]:
    return _first_cued(text, book.situations)


def _first_cued(text: str, candidates: Tuple[Situation, ...]) -> Optional[Situation]:
    for situation in candidates:
        if any(cue in text for cue in situation.cues):
            return situation
    return None


def acknowledge(
    category: str,
    text: str,
    product: Optional[str] = None,
    defect: Optional[str] = None,
    human_within_hours: Optional[float] = None,
    book: Optional[ReplyBook] = None,
) -> Acknowledgement:
    """Compose the reply to a complaint of `category` written as `text`.

    The variation is chosen from the text itself, so the same message always gets the
    same reply while different messages get different wordings. With
    `human_within_hours` the reply promises a person within that time instead of the
    category's usual next step.
    """
    if category not in CATEGORIES:
        raise ValueError(f"unknown complaint category '{category}', expected one of {CATEGORIES}")
    book = book or reply_book()
    rng = random.Random(zlib.crc32(text.encode("utf-8")))
    replies = book.categories[category]
    item = product or DEFAULT_ITEM

    situation = find_situation(text, book) or _first_cued(text, replies.topics)
    if situation:
        pool = situation.replies
    else:
        fitting = [r for r in replies.with_item if defect or "{defect}" not in r]
        pool = tuple(fitting) if (product or defect) and fitting else replies.generic
    empathy = rng.choice(pool)

    parts: List[str] = [
        empathy.format(item=item, defect=defect or ""),
        replies.next_step if human_within_hours is None
        else book.escalation_notice.format(hours=f"{human_within_hours:g}"),
    ]
    return Acknowledgement("".join(parts), situation.name if situation else None)
