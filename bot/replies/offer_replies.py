"""What the shopper reads about offers and the follow-up, from offer_replies.yml."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List

import yaml

REPLIES_FILE = Path(__file__).with_name("offer_replies.yml")
SECTIONS = {"offer_buttons": ("accept", "decline", "human"),
            "accepted": ("refund", "exchange", "repair", "compensation")}
TEXTS = ("offer", "next_offer", "above_cap_note", "accepted_case", "followup_promise", "plain_yes", "plain_no",
         "ask_rating", "ask_rating_again", "rating_thanks", "rating_reopened")


class OfferReplyConfigError(ValueError):
    """offer_replies.yml is missing a text."""


@lru_cache(maxsize=1)
def offer_replies() -> Dict[str, Any]:
    data = yaml.safe_load(REPLIES_FILE.read_text(encoding="utf-8")) or {}
    missing = [key for key in TEXTS if not isinstance(data.get(key), str)]
    missing += [f"{section}.{key}" for section, keys in SECTIONS.items() for key in keys
                if not isinstance((data.get(section) or {}).get(key), str)]
    if missing:
        raise OfferReplyConfigError(f"{REPLIES_FILE.name}: missing text(s) {missing}")
    return data


def say(key: str, **values: object) -> str:
    """`key` is a top-level text or `section.name`."""
    node: Any = offer_replies()
    for part in key.split("."):
        node = node[part]
    return node.format(**values)


def offer_buttons() -> List[Dict[str, str]]:
    titles = offer_replies()["offer_buttons"]
    return [{"title": titles["accept"], "payload": "/affirm"},
            {"title": titles["decline"], "payload": "/deny"},
            {"title": titles["human"], "payload": "/request_human"}]


def rating_buttons() -> List[Dict[str, str]]:
    return [{"title": f"{n}分", "payload": str(n)} for n in range(5, 0, -1)]
