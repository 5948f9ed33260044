"""Duplicate deliveries and flooding users: state shared through Redis when `REDIS_URL`
is set (several Rasa instances behind one webhook see the same), in process otherwise.

Both backends have the same async interface:
- `Deduper.first_time(message_id)`: True the first time a platform message id is seen
  within `ttl` seconds, False for a redelivery.
- `RateLimiter.allow(user_id, now)`: False once a user has sent `limit` comments within
  the current `window` seconds.
"""
from __future__ import annotations

import math
import os
import time
from collections import OrderedDict, deque
from typing import Deque, Dict, Mapping, Optional, Protocol, Tuple

DEFAULT_DEDUPE_SECONDS = 24 * 3600
DEFAULT_RATE_LIMIT = 10
DEFAULT_RATE_WINDOW_SECONDS = 10.0
MAX_REMEMBERED_IDS = 200_000


class Deduper(Protocol):
    async def first_time(self, message_id: str) -> bool: ...


class RateLimiter(Protocol):
    async def allow(self, user_id: str, now: Optional[float] = None) -> bool: ...


class MemoryDeduper:
    def __init__(self, ttl: float = DEFAULT_DEDUPE_SECONDS, max_ids: int = MAX_REMEMBERED_IDS) -> None:
        self.ttl, self.max_ids = ttl, max_ids
        self._seen: "OrderedDict[str, float]" = OrderedDict()

    async def first_time(self, message_id: str, now: Optional[float] = None) -> bool:
        now = time.time() if now is None else now
        while self._seen and (next(iter(self._seen.values())) < now - self.ttl
                              or len(self._seen) >= self.max_ids):
            self._seen.popitem(last=False)
        if message_id in self._seen:
            return False
        self._seen[message_id] = now
        return True


class MemoryRateLimiter:
    """A sliding window per user."""

    def __init__(self, limit: int = DEFAULT_RATE_LIMIT, window: float = DEFAULT_RATE_WINDOW_SECONDS) -> None:
        self.limit, self.window = limit, window
        self._times: Dict[str, Deque[float]] = {}

    async def allow(self, user_id: str, now: Optional[float] = None) -> bool:
        now = time.time() if now is None else now
        times = self._times.setdefault(user_id, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        if len(self._times) > MAX_REMEMBERED_IDS:
            self._times = {u: t for u, t in self._times.items() if t and t[-1] > now - self.window}
        return True


class RedisDeduper:
    def __init__(self, client, ttl: float = DEFAULT_DEDUPE_SECONDS, prefix: str = "liveroom:seen:") -> None:
        self.client, self.ttl, self.prefix = client, int(math.ceil(ttl)), prefix

    async def first_time(self, message_id: str) -> bool:
        # SET NX is atomic: of two instances receiving the same redelivery, one wins.
        return bool(await self.client.set(self.prefix + message_id, "1", nx=True, ex=self.ttl))


class RedisRateLimiter:
    """A fixed window per user (INCR + EXPIRE in one transaction)."""

    def __init__(self, client, limit: int = DEFAULT_RATE_LIMIT, window: float = DEFAULT_RATE_WINDOW_SECONDS,
                 prefix: str = "liveroom:rate:") -> None:
        self.client, self.limit, self.window, self.prefix = client, limit, window, prefix

    async def allow(self, user_id: str, now: Optional[float] = None) -> bool:
        now = time.time() if now is None else now
        key = f"{self.prefix}{user_id}:{int(now // self.window)}"
        async with self.client.pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(key).expire(key, int(math.ceil(self.window * 2))).execute()
        return int(count) <= self.limit


def limits_from_env(environ: Mapping[str, str] = os.environ) -> Tuple[Deduper, RateLimiter, str]:
    """The dedupe and rate-limit state for this process, and where it lives."""
    limit = int(environ.get("LIVEROOM_RATE_LIMIT", DEFAULT_RATE_LIMIT))
    window = float(environ.get("LIVEROOM_RATE_WINDOW_SECONDS", DEFAULT_RATE_WINDOW_SECONDS))
    url = environ.get("REDIS_URL", "").strip()
    if url:
        import redis.asyncio as redis_asyncio

        client = redis_asyncio.from_url(url)
        return RedisDeduper(client), RedisRateLimiter(client, limit, window), "redis"
    return MemoryDeduper(), MemoryRateLimiter(limit, window), "memory"
