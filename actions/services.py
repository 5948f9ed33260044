"""The business services behind the actions, built once per action-server process.

Configuration comes from the environment (DATABASE_URL, ORDER_API_URL, MEDIA_DIR …) so
the action server, the console and the tests point at the same database and media.
"""
from __future__ import annotations

from functools import lru_cache

from bot.cases import CaseStore
from bot.media import MediaStore, media_store_from_env
from bot.orders import OrderBook, order_book_from_env


@lru_cache(maxsize=1)
def order_book() -> OrderBook:
    return order_book_from_env()


@lru_cache(maxsize=1)
def case_store() -> CaseStore:
    return CaseStore()


@lru_cache(maxsize=1)
def media_store() -> MediaStore:
    return media_store_from_env()
