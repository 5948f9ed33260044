"""Photo evidence intake: attachment URLs from message metadata, validated and stored."""
from bot.media.attachments import image_urls, non_image_attachments
from bot.media.store import (
    MESSAGES,
    REASONS,
    MediaStore,
    PhotoRejected,
    StoredPhoto,
    media_store_from_env,
)

__all__ = [
    "MESSAGES",
    "REASONS",
    "MediaStore",
    "PhotoRejected",
    "StoredPhoto",
    "image_urls",
    "media_store_from_env",
    "non_image_attachments",
]
