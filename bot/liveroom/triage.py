"""Which live-room comments open a private conversation (私信), from liveroom.yml:
complaint intents and requests for a person above a confidence; everything else gets
no reply from the bot."""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, Optional, Union

from bot.categories import COMPLAINT_INTENTS
from bot.policy.location import policy_file
from bot.policy.policy_yaml import PolicyFile

LIVEROOM_FILE = "liveroom.yml"
REQUEST_HUMAN = "request_human"
PRIVATE_INTENTS = (*COMPLAINT_INTENTS, REQUEST_HUMAN)


@dataclass(frozen=True)
class LiveRoomRules:
    min_confidence: float
    screen_threshold: float
    public_reply: str
    queue_size: int
    workers: int
    batch_size: int

    def decide(self, parse: Mapping[str, Any]) -> Optional[str]:
        """The intent that opens a private conversation, or None for chatter."""
        intent = parse.get("intent") or {}
        name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
        if name in PRIVATE_INTENTS and confidence >= self.min_confidence:
            return name
        return None


def load_liveroom_rules(path: Union[str, "os.PathLike[str]", None] = None) -> LiveRoomRules:
    source = PolicyFile(path if path is not None else policy_file(LIVEROOM_FILE))
    top = source.mapping((), source.data, required=("triage", "public_reply", "queue"))
    triage = source.mapping(("triage",), top["triage"], required=("min_confidence", "screen_threshold"))
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
        public_reply=reply,
        queue_size=source.integer(("queue", "size"), queue["size"], 1, 1_000_000),
        workers=source.integer(("queue", "workers"), queue["workers"], 1, 64),
        batch_size=source.integer(("queue", "batch_size"), queue["batch_size"], 1, 1000),
    )


@lru_cache(maxsize=1)
def liveroom_rules() -> LiveRoomRules:
    return load_liveroom_rules()

