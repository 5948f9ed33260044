"""Which live-room comments open a private conversation (私信), from liveroom.yml:
complaint intents and requests for a person above a confidence, and comments that leave
a phone or order number for the shop; everything else gets no reply from the bot."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Pattern, Sequence, Tuple, Union

import yaml

from bot.categories import COMPLAINT_INTENTS
from bot.nlu.text_normalizer import to_halfwidth
from bot.policy.location import policy_file
from bot.policy.policy_yaml import PolicyFile

LIVEROOM_FILE = "liveroom.yml"
REQUEST_HUMAN = "request_human"
PRIVATE_INTENTS = (*COMPLAINT_INTENTS, REQUEST_HUMAN)
# What the FallbackClassifier puts first when no intent is sure; the ranking under it
# still holds the model's guesses.
FALLBACK_INTENT = "nlu_fallback"
# The NLU regex entities (data/nlu/regex.yml, the one place they are written) that are a
# shopper's own contact details: a phone or order number posted in the room. Tracking
# numbers are left out: their bare 12–15-digit form is what fans type as 666666666666.
CONTACT_ENTITIES = ("phone", "order_id")
REGEX_FILE = Path(__file__).resolve().parents[2] / "data" / "nlu" / "regex.yml"


@lru_cache(maxsize=1)
def _contact_patterns() -> Tuple[Pattern[str], ...]:
    data = yaml.safe_load(REGEX_FILE.read_text(encoding="utf-8"))
    return tuple(re.compile(line.strip()[2:]) for entry in data["nlu"]
                 if entry.get("regex") in CONTACT_ENTITIES
                 for line in entry["examples"].splitlines() if line.strip().startswith("- "))


def has_contact_details(text: str) -> bool:
    """A phone or order number in the comment (full-width digits count)."""
    text = "".join(map(to_halfwidth, text or ""))
    return any(p.search(text) for p in _contact_patterns())


@dataclass(frozen=True)
class LiveRoomRules:
    min_confidence: float
    screen_threshold: float
    private_when_contact_given: bool
    public_reply: str
    queue_size: int
    workers: int
    batch_size: int

    def passes_screen(self, text: str, score: float) -> bool:
        """Whether a comment goes on from the screen to the full model."""
        return score >= self.screen_threshold or (
            self.private_when_contact_given and has_contact_details(text))

    def decide(self, parse: Mapping[str, Any]) -> Optional[str]:
        """The intent that opens a private conversation, or None for chatter.

        The question here is only "private or not", so when the two likeliest intents
        are both private their confidences count together: a comment split between two
        complaint categories (买一送一只收到一个: transaction or logistics?) is still a
        complaint. Only the top two: summed over the whole ranking, the small shares of
        six private intents add up on plain chatter (held-out live-room comments, when
        this was chosen: recall .966 with 1.6% of chatter answered, against .946 for the
        top intent alone and 1.9% for the whole ranking). The likeliest private intent
        starts the conversation. With `private_when_contact_given`, a comment holding a
        phone or order number goes private below that share too."""
        everything = [r for r in (parse.get("intent_ranking") or [parse.get("intent") or {}])
                      if r.get("name") != FALLBACK_INTENT]
        private = [r for r in everything[:2] if r.get("name") in PRIVATE_INTENTS]
        share = sum(float(r.get("confidence") or 0.0) for r in private)
        if private and share >= self.min_confidence:
            return private[0]["name"]
        if self.private_when_contact_given and has_contact_details(parse.get("text") or ""):
            # Nobody posts a phone or order number to chat: it asks the shop to get in
            # touch, and the number should not stay the only thing the room sees.
            return next((r["name"] for r in everything if r.get("name") in PRIVATE_INTENTS),
                        REQUEST_HUMAN)
        return None


ParseMany = Callable[[List[str]], List[Dict[str, Any]]]


def triage_texts(texts: Sequence[str], scores: Sequence[float], parse_many: ParseMany,
                 rules: LiveRoomRules) -> Tuple[List[Optional[Dict[str, Any]]], int]:
    """The live-room triage of one batch, for the benchmark and tests (the channel runs
    the same steps with its rate limit between them): the screen's scores decide which
    texts reach the full model, `parse_many` parses those in one go, and the rules decide.
    Returns, per text, the parse with the intent that opens a private conversation, or
    None for chatter; and how many texts were parsed."""
    candidates = [i for i, (t, s) in enumerate(zip(texts, scores)) if rules.passes_screen(t, s)]
    parses = dict(zip(candidates, parse_many([texts[i] for i in candidates])))
    return [private_parse(rules, parses[i]) if i in parses else None
            for i in range(len(texts))], len(candidates)


def private_parse(rules: LiveRoomRules, parse: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The parse a private conversation starts from, or None for chatter. When the rules
    chose a private intent other than the top one (see LiveRoomRules.decide), the
    conversation starts from it."""
    intent = rules.decide(parse)
    if intent is None:
        return None
    if (parse.get("intent") or {}).get("name") == intent:
        return parse
    chosen = next((r for r in parse.get("intent_ranking") or [] if r.get("name") == intent),
                  {"name": intent, "confidence": 0.0})
    return {**parse, "intent": chosen}


def load_liveroom_rules(path: Union[str, "os.PathLike[str]", None] = None) -> LiveRoomRules:
    source = PolicyFile(path if path is not None else policy_file(LIVEROOM_FILE))
    top = source.mapping((), source.data, required=("triage", "public_reply", "queue"))
    triage = source.mapping(("triage",), top["triage"],
                            required=("min_confidence", "screen_threshold", "private_when_contact_given"))
    queue = source.mapping(("queue",), top["queue"], required=("size", "workers", "batch_size"))
    reply = source.strings(("public_reply",), [top["public_reply"]])[0]
    if "{nickname}" not in reply:
        raise source.error(("public_reply",), "must contain {nickname}")
    try:
        reply.format(nickname="x")
    except (KeyError, IndexError, ValueError) as error:
        raise source.error(("public_reply",), f"only {{nickname}} may be filled in ({error})")
    return LiveRoomRules(
        min_confidence=source.number(("triage", "min_confidence"), triage["min_confidence"], 0, 1),
        screen_threshold=source.number(("triage", "screen_threshold"), triage["screen_threshold"], 0, 1),
        private_when_contact_given=source.boolean(("triage", "private_when_contact_given"),
                                                  triage["private_when_contact_given"]),
        public_reply=reply,
        queue_size=source.integer(("queue", "size"), queue["size"], 1, 1_000_000),
        workers=source.integer(("queue", "workers"), queue["workers"], 1, 64),
        batch_size=source.integer(("queue", "batch_size"), queue["batch_size"], 1, 1000),
    )


@lru_cache(maxsize=1)
def liveroom_rules() -> LiveRoomRules:
    return load_liveroom_rules()

