"""Comment events as a live-room platform delivers them, singly or in batches, checked
field by field so a malformed event is refused with a message that names it."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, List

MAX_BATCH = 500
MAX_TEXT_CHARS = 2000
MAX_ID_CHARS = 128
MAX_NICKNAME_CHARS = 64
FIELDS = ("message_id", "room_id", "user_id", "nickname", "text", "timestamp")


class EventError(ValueError):
    """The request cannot be used; the message says which event and field, for the platform."""


@dataclass(frozen=True)
class Comment:
    message_id: str
    room_id: str
    user_id: str
    nickname: str
    text: str
    timestamp: float

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _text(raw: Dict[str, Any], name: str, where: str, limit: int, allow_empty: bool = False) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise EventError(f"{where}.{name}: must be a non-empty string")
    if len(value) > limit:
        raise EventError(f"{where}.{name}: at most {limit} characters, got {len(value)}")
    return value


def parse_comment(raw: Any, where: str = "comment") -> Comment:
    if not isinstance(raw, dict):
        raise EventError(f"{where}: must be a JSON object with {', '.join(FIELDS)}")
    timestamp = raw.get("timestamp")
    if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)) or not math.isfinite(timestamp) \
            or timestamp < 0:
        raise EventError(f"{where}.timestamp: must be unix seconds (a number)")
    user_id = _text(raw, "user_id", where, MAX_ID_CHARS)
    if any(c.isspace() or c == "/" for c in user_id):
        # It becomes a conversation id: no spaces or slashes.
        raise EventError(f"{where}.user_id: must not contain spaces or slashes")
    return Comment(
        message_id=_text(raw, "message_id", where, MAX_ID_CHARS),
        room_id=_text(raw, "room_id", where, MAX_ID_CHARS),
        user_id=user_id,
        nickname=_text(raw, "nickname", where, MAX_NICKNAME_CHARS, allow_empty=True),
        text=_text(raw, "text", where, MAX_TEXT_CHARS),
        timestamp=float(timestamp),
    )


def parse_events(body: bytes) -> List[Comment]:
    """One comment object, a list of them, or {"comments": [...]}."""
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError):
        raise EventError("the body must be JSON: one comment, a list, or {\"comments\": [...]}")
    if isinstance(data, dict) and "comments" in data:
        data = data["comments"]
        prefix = "comments"
    else:
        prefix = ""
    if isinstance(data, dict):
        return [parse_comment(data)]
    if not isinstance(data, list):
        raise EventError("the body must be one comment object, a list, or {\"comments\": [...]}")
    if not data:
        raise EventError("the batch is empty")
    if len(data) > MAX_BATCH:
        raise EventError(f"at most {MAX_BATCH} comments per request, got {len(data)}")
    return [parse_comment(raw, f"{prefix or 'comments'}[{n}]") for n, raw in enumerate(data)]
