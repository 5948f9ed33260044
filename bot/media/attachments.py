"""Pick photo URLs out of the metadata the REST channel passes with a message.

The shape is `{"attachments": [{"type": "image", "url": "https://…"}, …]}`. Metadata comes
from whatever client posted the message, so anything else in it is ignored rather than
allowed to break the form validator that calls these functions.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator, List, Optional

IMAGE_TYPE = "image"


def _attachments(metadata: Optional[Mapping]) -> Iterator[Mapping]:
    if not isinstance(metadata, Mapping):
        return
    attachments = metadata.get("attachments")
    if not isinstance(attachments, (list, tuple)):
        return
    for attachment in attachments:
        if isinstance(attachment, Mapping):
            yield attachment


def _type_of(attachment: Mapping) -> Optional[str]:
    kind: Any = attachment.get("type")
    return kind.strip().lower() if isinstance(kind, str) else None


def image_urls(metadata: Optional[Mapping]) -> List[str]:
    """URLs of the image attachments, in the order sent, each once.

    A client that repeats the same attachment would otherwise count twice towards the
    1–9 photos a case may hold.
    """
    urls: List[str] = []
    for attachment in _attachments(metadata):
        if _type_of(attachment) != IMAGE_TYPE:
            continue
        url = attachment.get("url")
        if isinstance(url, str) and url.strip() and url.strip() not in urls:
            urls.append(url.strip())
    return urls


def non_image_attachments(metadata: Optional[Mapping]) -> int:
    """How many attachments declare a type other than image (video, file, audio…).

    Entries without a type are junk rather than something the shopper chose to send, so
    they are not counted: the bot should only say "只支持图片" about a real file.
    """
    return sum(
        1 for attachment in _attachments(metadata)
        if _type_of(attachment) not in (None, "", IMAGE_TYPE)
    )
