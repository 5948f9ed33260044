"""What may be said in public (直播间公屏): the short acknowledgement addressed to the
commenter. Masking itself lives in `bot.masking`, shared with logs and the trainer's
export; `mask` is re-exported here for the modules that import it from the live room."""
from __future__ import annotations

from bot.masking import MASK, mask

__all__ = ["MASK", "MAX_NICKNAME_CHARS", "mask", "public_name", "public_reply"]

MAX_NICKNAME_CHARS = 20


def public_name(nickname: str) -> str:
    """A nickname fit to show in public: masked (a nickname can hold a phone number) and
    short; a blank one becomes 亲."""
    name = mask(" ".join(nickname.split()))[:MAX_NICKNAME_CHARS]
    return name or "亲"


def public_reply(nickname: str, template: str) -> str:
    """The public acknowledgement: the shop's fixed template addressed to the nickname.
    Nothing of the comment is echoed."""
    return mask(template.format(nickname=public_name(nickname)))
