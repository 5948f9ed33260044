"""HMAC-SHA256 signatures over a request body with a shared secret: the platform signs
what it delivers (`X-Signature: sha256=<hex>`), and we sign our public replies the same
way so the platform can check them."""
from __future__ import annotations

import hashlib
import hmac
from typing import Optional

HEADER = "X-Signature"
PREFIX = "sha256="


def sign(body: bytes, secret: str) -> str:
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: Optional[str], secret: str) -> bool:
    if not secret or not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(body, secret).encode("ascii"), header.strip().encode("ascii", "replace"))
