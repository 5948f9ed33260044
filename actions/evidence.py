"""Photo evidence (图片凭证) attached to the shopper's latest message."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Dict, List

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.services import media_store
from bot.media import PhotoRejected, image_urls, non_image_attachments
from bot.replies.form_replies import say

MAX_PHOTOS = 9


@dataclass(frozen=True)
class Attached:
    photos: List[Dict[str, Any]]  # the form's photos so far plus the new ones
    attached: bool                # the message carried any attachment at all
    stored: int                   # of those, stored now or already on the form


async def store_attached_photos(tracker: Tracker, dispatcher: CollectingDispatcher) -> Attached:
    """Fetch, check and store the images on the latest message; each refused file gets
    its own reason, so the shopper knows which one to send again."""
    metadata = tracker.latest_message.get("metadata") or {}
    photos: List[Dict[str, Any]] = list(tracker.get_slot("photos") or [])
    urls = image_urls(metadata)
    others = non_image_attachments(metadata)
    attached = bool(urls or others)
    if others:
        dispatcher.utter_message(text=say("photo_only_images"))
    room = max(MAX_PHOTOS - len(photos), 0)
    if len(urls) > room:
        dispatcher.utter_message(text=say("too_many_photos", limit=MAX_PHOTOS, extra=len(urls) - room))
    known = {p["sha256"] for p in photos}
    stored = 0
    for url in urls[:room]:
        try:
            photo = await asyncio.to_thread(media_store().save_url, url)
        except PhotoRejected as rejected:
            dispatcher.utter_message(text=rejected.message)
            continue
        stored += 1
        if photo.sha256 not in known:
            known.add(photo.sha256)
            photos.append(photo.to_dict())
    return Attached(photos, attached, stored)
