"""Words a shop lists in a policy YAML, compiled for matching shopper text.

Shared by the severity and compensation rules. A `*` inside a word stands for a few
letters or characters (退款*没到 matches 退款了还没到), never across punctuation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Tuple

from bot.nlu.text_normalizer import normalize_text
from bot.policy.policy_yaml import Key, PolicyFile

WILDCARD = "*"


@dataclass(frozen=True)
class Term:
    """One configured word; `word` is its normalised spelling and the reason code."""
    word: str
    pattern: "re.Pattern[str]"


def prepare(text: str) -> str:
    """Shopper text or a configured word, as matching sees it."""
    return normalize_text(text).casefold()


def compile_term(word: str, gap: int) -> "re.Pattern[str]":
    parts = [re.escape(part) for part in word.split(WILDCARD)]
    body = rf"\w{{0,{gap}}}?".join(parts)
    # A number inside a longer number (12315 inside an order number) is not that number.
    if word[0].isdigit():
        body = r"(?<!\d)" + body
    if word[-1].isdigit():
        body += r"(?!\d)"
    return re.compile(body)


def terms_from(source: PolicyFile, key: Key, value: Any, gap: int) -> Tuple[Term, ...]:
    """The words under `key`, checked and compiled; a bad one names its line."""
    terms: Dict[str, Term] = {}
    for position, raw in enumerate(source.strings(key, value)):
        word = prepare(raw)
        if not word.strip(WILDCARD) or word.startswith(WILDCARD) or word.endswith(WILDCARD) \
                or WILDCARD * 2 in word:
            raise source.error(key + (position,),
                               f"'{raw}': '{WILDCARD}' may only stand between two parts of a word")
        # The same word twice (perhaps once in each script) is harmless: keep one.
        terms.setdefault(word, Term(word, compile_term(word, gap)))
    return tuple(terms.values())
