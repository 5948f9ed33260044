"""The agent console's web app. For now: the JSON case API and the case photos.

Everything under /api/ and /media/ needs `Authorization: Bearer <token>`. Errors are JSON
`{"error": "<message>"}` and never carry a stack trace.
"""
from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import re
import uuid
from functools import partial
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar

from sanic import Sanic
from sanic.exceptions import MethodNotSupported, NotFound, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, file
from sanic.response import json as sanic_json

from bot.cases.followups import FollowupStore
from bot.cases.store import CaseStore

logger = logging.getLogger(__name__)

PROTECTED_PREFIXES = ("/api/", "/media/")
# The stored name of a photo: its sha256 and an image extension. Anything else, and in
# particular anything with a slash or dots in the stem, is not a photo we stored.
MEDIA_NAME = re.compile(r"^([0-9a-f]{64})\.(jpg|jpeg|png|webp|gif)$")
MEDIA_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
               "webp": "image/webp", "gif": "image/gif"}
CASE_ID = re.compile(r"^SH\d{8}-\d{4,}$")

_app_numbers = itertools.count(1)
T = TypeVar("T")


def _json(body: Any, status: int = 200) -> HTTPResponse:
    # Chinese stays readable in the payload instead of \uXXXX escapes.
    return sanic_json(body, status=status, dumps=partial(json.dumps, ensure_ascii=False))


def _error(status: int, message: str) -> HTTPResponse:
    return _json({"error": message}, status=status)


def _bearer_token(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def _in_thread(function: Callable[..., T], *args: Any) -> T:
    # The store is synchronous SQLAlchemy: keep the event loop free while it works.
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args))


def create_app(store: CaseStore, token: str, media_root: Optional[Path] = None) -> Sanic:
    """A console app over `store`, accepting `token` as the agents' bearer token.

    Each call makes a separately named app, as Sanic 21.12 keeps a registry of apps by
    name, so tests can build several in one process.
    """
    if not token:
        raise ValueError("the console needs a non-empty API token")
    expected = token.encode("utf-8")
    media_root = Path(media_root).resolve() if media_root is not None else None

    app = Sanic(f"shouhou_console_{next(_app_numbers)}_{uuid.uuid4().hex[:8]}",
                configure_logging=False)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # A stopping console should not hang on idle keep-alive connections.
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 3.0
    app.ctx.store = store
    followups = FollowupStore(store)

    def case_json(case) -> dict:
        """The case with its satisfaction follow-up (回访): the rating and when it is due."""
        data = case.to_json()
        followup = followups.get(case.id)
        data["rating"] = followup.rating if followup else None
        data["followup"] = ({"state": followup.state, "due_at": followup.to_json()["due_at"],
                             "sent_at": followup.to_json()["fired_at"]} if followup else None)
        return data

    @app.middleware("request")
    async def require_token(request: Request) -> Optional[HTTPResponse]:
        if not request.path.startswith(PROTECTED_PREFIXES):
            return None
        given = _bearer_token(request)
        if given is None or not hmac.compare_digest(given.encode("utf-8"), expected):
            return _error(401, "未授权：请在请求头中提供有效的令牌（Authorization: Bearer <token>）")
        return None

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return _json({"status": "ok"})

    @app.get("/api/cases")
    async def list_cases(request: Request) -> HTTPResponse:
        shopper_id = (request.args.get("shopper_id") or "").strip()
        if not shopper_id:
            return _error(400, "缺少查询参数 shopper_id：请指定要查看哪位顾客的工单")
        cases = await _in_thread(store.cases_of, shopper_id)
        return _json({"cases": [await _in_thread(case_json, case) for case in cases]})

    @app.get("/api/cases/<case_id:str>")
    async def get_case(request: Request, case_id: str) -> HTTPResponse:
        case = await _in_thread(store.get, case_id) if CASE_ID.match(case_id) else None
        if case is None:
            return _error(404, f"工单 {case_id} 不存在")
        return _json(await _in_thread(case_json, case))

    @app.get("/media/<filename:str>")
    async def media(request: Request, filename: str) -> HTTPResponse:
        match = MEDIA_NAME.match(filename)
        if media_root is None or match is None:
            return _error(404, "图片不存在")
        path = (media_root / filename[:2] / filename).resolve()
        # The name pattern already rules out traversal; this keeps it so if it changes.
        if media_root not in path.parents or not path.is_file():
            return _error(404, "图片不存在")
        return await file(path, mime_type=MEDIA_TYPES[match.group(2)],
                          headers={"X-Content-Type-Options": "nosniff",
                                   "Cache-Control": "private, max-age=3600"})

    @app.exception(Exception)
    async def as_json(request: Request, error: Exception) -> HTTPResponse:
        if isinstance(error, NotFound):
            return _error(404, "找不到该地址")
        if isinstance(error, MethodNotSupported):
            return _error(405, "不支持该请求方法")
        if isinstance(error, SanicException) and 400 <= (error.status_code or 500) < 500:
            return _error(error.status_code, "请求有误")
        logger.exception("console request to %s failed", request.path)
        return _error(500, "服务器内部错误，请稍后再试")

    return app
