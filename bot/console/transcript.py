"""The conversation as an agent reads it, from the Rasa tracker's events: shopper, bot
and agent messages (marked), photos, and when the bot paused and resumed."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional

from bot.cases.store import SHANGHAI
from bot.media.store import stored_name

AGENT_KEY = "agent"


def _time(timestamp: Any) -> Optional[str]:
    if not isinstance(timestamp, (int, float)):
        return None
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).astimezone(SHANGHAI).isoformat()


def _photos(metadata: Any) -> List[Dict[str, Any]]:
    attachments = metadata.get("attachments") if isinstance(metadata, dict) else None
    photos = []
    for attachment in attachments if isinstance(attachments, list) else []:
        if not isinstance(attachment, dict) or attachment.get("type") != "image":
            continue
        # Photos sent as links or inline data are on the case once the bot stored them;
        # the app chat's uploads (`media:<name>`) can be shown right here.
        photos.append({"filename": stored_name(attachment.get("url"))})
    return photos


def transcript(events: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """One item per message or pause/resume, in order. `index` is the event's position,
    so a live view can ask for what came after the last item it showed."""
    items: List[Dict[str, Any]] = []
    for index, event in enumerate(events):
        kind = event.get("event")
        at = _time(event.get("timestamp"))
        if kind == "user":
            text = event.get("text") or ""
            items.append({"index": index, "who": "shopper", "text": text, "at": at,
                          "photos": _photos(event.get("metadata"))})
        elif kind == "bot":
            metadata = event.get("metadata") or {}
            agent = metadata.get(AGENT_KEY) if isinstance(metadata, dict) else None
            data = event.get("data") or {}
            buttons = [b.get("title") for b in (data.get("buttons") or []) if isinstance(b, dict)]
            items.append({"index": index, "who": "agent" if agent else "bot",
                          "agent": agent, "text": event.get("text") or "", "at": at,
                          "buttons": buttons})
        elif kind in ("pause", "resume"):
            items.append({"index": index, "who": "system", "at": at,
                          "text": "机器人已暂停，等待人工客服" if kind == "pause" else "已交还机器人"})
    return items
