"""The agent console (人工客服工作台): log-in, the queue of escalated conversations, a
conversation view with live updates, the agents' actions, and the JSON case API.

Access: pages under /console/ need a log-in session (cookie); /api/ and /media/ take a
session or the machines' bearer token (`Authorization: Bearer <AGENT_API_TOKEN>`).
State-changing requests made with a session must carry its CSRF token (form field
`csrf_token` or header `X-CSRF-Token`). Errors are JSON `{"error": …}` for the API and a
readable page otherwise, never a stack trace.
"""
from __future__ import annotations

import asyncio
import hmac
import itertools
import json
import logging
import re
import secrets
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, TypeVar
from urllib.parse import urlencode

import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic
from sanic.exceptions import MethodNotSupported, NotFound, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse, file, html, redirect
from sanic.response import json as sanic_json

from bot.cases.followups import FollowupStore, followup_delay
from bot.cases.store import REMEDIES, SHANGHAI, CaseStore
from bot.console.rasa_client import RasaClient, RasaUnavailable, agent_message, resume_events
from bot.console.sessions import ConsoleSession, SessionStore
from bot.console import training
from bot.console.transcript import transcript
from bot.console.users import ConsoleUser, UserDirectory
from bot.media import MediaStore
from bot.handoff import HandoffConflict, HandoffNotFound, HandoffQueue, handoff_rules
from bot.orders import OrderBook, OrderServiceUnavailable
from bot.trainer.review import Project

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "shouhou_session"
LOGIN_CSRF_COOKIE = "shouhou_login_csrf"
MACHINE_PREFIXES = ("/api/", "/media/")
PAGE_PREFIX = "/console/"
CASE_ID = re.compile(r"^SH\d{8}-\d{4,}$")
MAX_REPLY_CHARS = 2000
LIVE_POLL_SECONDS = 1.0
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
CATEGORY_NAMES = {"quality": "品质", "logistics": "物流", "service": "服务", "return": "退换货",
                  "transaction": "交易纠纷"}
TIER_NAMES = {"loyal": "高价值忠诚", "growth": "潜力成长", "dormant": "沉默唤醒", "regular": "普通"}
REMEDY_NAMES = {"refund": "退款", "exchange": "换货", "repair": "维修", "compensation": "补偿",
                "no_preference": "听从安排"}
STATE_NAMES = {"waiting": "等待接入", "taken": "处理中", "returned": "已交还机器人"}

_app_numbers = itertools.count(1)
T = TypeVar("T")


def _json(body: Any, status: int = 200) -> HTTPResponse:
    # Chinese stays readable in the payload instead of \u escapes.
    return sanic_json(body, status=status, dumps=partial(json.dumps, ensure_ascii=False))


def _error(status: int, message: str) -> HTTPResponse:
    return _json({"error": message}, status=status)


def _bearer_token(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def _in_thread(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    # The stores are synchronous SQLAlchemy: keep the event loop free while they work.
    return await asyncio.get_running_loop().run_in_executor(None, partial(function, *args, **kwargs))


def _canned_replies() -> List[Dict[str, str]]:
    data = yaml.safe_load((HERE / "canned_replies.yml").read_text(encoding="utf-8")) or []
    return [{"title": str(item["title"]), "text": str(item["text"])} for item in data]


def _client_address(request: Request) -> str:
    return request.ip or "unknown"


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def create_app(store: CaseStore, token: str, media_root: Optional[Path] = None, *,
               users: Optional[UserDirectory] = None, rasa: Optional[RasaClient] = None,
               orders: Optional[OrderBook] = None, secure_cookies: bool = False,
               sessions: Optional[SessionStore] = None, training_project: Optional[Project] = None,
               trainer_dir: Optional[Path] = None) -> Sanic:
    """A console app over `store`, accepting `token` as the machines' bearer token.

    `users` enables log-in (without it only the bearer-token API works); `rasa` is how
    agent replies reach the shopper and the transcript is read. The Training page writes
    into `training_project` (the assistant's files) from the clusters in `trainer_dir`. Each call makes a
    separately named app, as Sanic 21.12 keeps a registry of apps by name.
    """
    if not token:
        raise ValueError("the console needs a non-empty API token")
    expected = token.encode("utf-8")
    media = MediaStore(Path(media_root)) if media_root is not None else None

    app = Sanic(f"shouhou_console_{next(_app_numbers)}_{uuid.uuid4().hex[:8]}",
                configure_logging=False)
    app.config.FALLBACK_ERROR_FORMAT = "json"
    # A stopping console should not hang on idle keep-alive connections or live views.
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = 3.0
    app.ctx.store = store
    followups = FollowupStore(store)
    queue = HandoffQueue(store)
    sessions = sessions or SessionStore(store)
    canned = _canned_replies()
    templates = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                            autoescape=select_autoescape(["html"]), trim_blocks=True,
                            lstrip_blocks=True)
    templates.globals.update(categories=CATEGORY_NAMES, tiers=TIER_NAMES, remedies=REMEDY_NAMES,
                             states=STATE_NAMES, remedy_codes=[r for r in REMEDIES if r != "no_preference"])
    app.static("/static", str(HERE / "static"), name="static")

    def case_json(case) -> dict:
        """The case with its satisfaction follow-up (回访): the rating and when it is due."""
        data = case.to_json()
        followup = followups.get(case.id)
        data["rating"] = followup.rating if followup else None
        data["followup"] = ({"state": followup.state, "due_at": followup.to_json()["due_at"],
                             "sent_at": followup.to_json()["fired_at"]} if followup else None)
        return data

    def render(request: Request, name: str, status: int = 200, **values: Any) -> HTTPResponse:
        session: Optional[ConsoleSession] = getattr(request.ctx, "session", None)
        user: Optional[ConsoleUser] = getattr(request.ctx, "user", None)
        body = templates.get_template(name).render(
            user=user, csrf_token=session.csrf_token if session else "", **values)
        return html(body, status=status)

    # -- authentication and request checks

    @app.middleware("request")
    async def authenticate(request: Request) -> Optional[HTTPResponse]:
        request.ctx.user = None
        request.ctx.session = None
        request.ctx.machine = False
        path = request.path
        protected_page = path.startswith(PAGE_PREFIX) or path == "/"
        machine = path.startswith(MACHINE_PREFIXES)
        if not (protected_page or machine or path == "/logout"):
            return None
        given = _bearer_token(request)
        if machine and given is not None:
            if hmac.compare_digest(given.encode("utf-8"), expected):
                request.ctx.machine = True
                return None
            return _error(401, "未授权：令牌无效")
        cookie = request.cookies.get(SESSION_COOKIE)
        session = await _in_thread(sessions.get, cookie) if (cookie and users) else None
        user = users.get(session.username) if (session and users) else None
        if user is None:
            if machine:
                return _error(401, "未授权：请先登录，或在请求头中提供有效的令牌（Authorization: Bearer <token>）")
            if path == "/logout":
                return redirect("/login")
            return redirect("/login?" + urlencode({"next": request.path}))
        request.ctx.user, request.ctx.session = user, session
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get("x-csrf-token") or (request.form.get("csrf_token") if request.form else None)
            if not sent or not hmac.compare_digest(sent.encode("utf-8"), session.csrf_token.encode("utf-8")):
                return _forbidden(request, "请求缺少有效的 CSRF 令牌，请刷新页面后重试")
        return None

    def _forbidden(request: Request, message: str) -> HTTPResponse:
        if request.path.startswith(MACHINE_PREFIXES) or _wants_json(request):
            return _error(403, message)
        return render(request, "error.html", status=403, message=message)

    @app.middleware("response")
    async def security_headers(request: Request, response: HTTPResponse) -> None:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith((PAGE_PREFIX, "/login", "/api/")):
            response.headers["Cache-Control"] = "no-store"

    def set_cookie(response: HTTPResponse, name: str, value: str, max_age: int) -> None:
        response.cookies[name] = value
        cookie = response.cookies[name]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/"
        cookie["max-age"] = max_age
        if secure_cookies:
            cookie["secure"] = True

    # -- log-in

    def _safe_next(value: Optional[str]) -> str:
        # Only a path on this console: never an absolute URL to elsewhere. Without one,
        # the home page, which sends each role to its own start page.
        return value if value and value.startswith(PAGE_PREFIX) and "//" not in value else "/"

    @app.get("/login")
    async def login_page(request: Request) -> HTTPResponse:
        login_csrf = secrets.token_urlsafe(24)
        response = render(request, "login.html", next=_safe_next(request.args.get("next")),
                          login_csrf=login_csrf, message=None, enabled=users is not None)
        set_cookie(response, LOGIN_CSRF_COOKIE, login_csrf, 3600)
        return response

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        form = request.form or {}
        name = (form.get("username") or "").strip()[:100]
        password = form.get("password") or ""
        target = _safe_next(form.get("next"))
        cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        sent_token = form.get("login_csrf") or ""

        def again(status: int, message: str) -> HTTPResponse:
            login_csrf = secrets.token_urlsafe(24)
            response = render(request, "login.html", status=status, next=target,
                              login_csrf=login_csrf, message=message, enabled=users is not None)
            set_cookie(response, LOGIN_CSRF_COOKIE, login_csrf, 3600)
            return response

        if users is None:
            return again(503, "未配置客服账号，无法登录")
        if not cookie_token or not hmac.compare_digest(cookie_token.encode(), sent_token.encode()):
            return again(403, "登录页面已过期，请重新输入")
        address = _client_address(request)
        if await _in_thread(sessions.locked_out, name, address):
            return again(429, "登录失败次数过多，请15分钟后再试")
        user = await _in_thread(users.authenticate, name, password)
        if user is None:
            await _in_thread(sessions.record_failure, name, address)
            logger.info("console log-in failed for a user name from %s", address)
            return again(401, "用户名或密码错误")
        await _in_thread(sessions.clear_failures, name)
        session = await _in_thread(sessions.start, user.name)
        response = redirect(target, status=303)
        set_cookie(response, SESSION_COOKIE, session.token, int(sessions.lifetime.total_seconds()))
        del response.cookies[LOGIN_CSRF_COOKIE]
        logger.info("console log-in: %s (%s)", user.name, user.role)
        return response

    @app.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        await _in_thread(sessions.end, request.cookies.get(SESSION_COOKIE))
        response = redirect("/login", status=303)
        del response.cookies[SESSION_COOKIE]
        return response

    @app.get("/")
    async def home(request: Request) -> HTTPResponse:
        user = request.ctx.user
        return redirect("/console/training" if user and user.role == "trainer" else "/console/queue")

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return _json({"status": "ok"})

    # -- the queue

    def _handoff_row(handoff, now: datetime) -> Dict[str, Any]:
        case = store.get(handoff.case_id) if handoff.case_id else None
        return {"handoff": handoff.to_json(now), "case": case.to_json() if case else None}

    def queue_view(user: Optional[ConsoleUser]) -> Dict[str, Any]:
        now = datetime.now(SHANGHAI)
        rows = [_handoff_row(h, now) for h in queue.open_queue()]
        view: Dict[str, Any] = {"rows": rows, "now": now.isoformat()}
        if user is None or user.is_supervisor:
            view["breached"] = [r for r in rows if r["handoff"]["sla"] == "breached"]
            view["attention"] = [c.to_json() for c in store.needing_attention(now)]
        return view

    @app.get("/console/queue")
    async def queue_page(request: Request) -> HTTPResponse:
        view = await _in_thread(queue_view, request.ctx.user)
        return render(request, "queue.html", **view)

    @app.get("/console/queue/rows")
    async def queue_rows(request: Request) -> HTTPResponse:
        """The queue's table body and the supervisor's lists, for the page's refresh."""
        view = await _in_thread(queue_view, request.ctx.user)
        return render(request, "queue_rows.html", **view)

    @app.get("/api/queue")
    async def queue_api(request: Request) -> HTTPResponse:
        return _json(await _in_thread(queue_view, request.ctx.user))

    # -- one conversation

    def _order_json(case) -> Optional[Dict[str, Any]]:
        if not case or not case.order_id or orders is None:
            return None
        try:
            order = orders.get(case.order_id)
        except OrderServiceUnavailable:
            return {"order_id": case.order_id, "unavailable": True}
        return order.to_dict() if order else None

    def _shopper_name(sender_id: str, order: Optional[Dict[str, Any]]) -> str:
        if order and order.get("shopper_name"):
            return order["shopper_name"]
        if orders is not None:
            try:
                known = orders.orders_of(sender_id)
            except OrderServiceUnavailable:
                known = []
            if known and known[0].shopper_name:
                return known[0].shopper_name
        return "亲"

    def conversation_view(handoff_id: int, user: ConsoleUser) -> Dict[str, Any]:
        handoff = queue.get(handoff_id)
        case = store.get(handoff.case_id) if handoff.case_id else None
        order = _order_json(case)
        name = _shopper_name(handoff.sender_id, order)
        values = {"name": name, "order_id": (case.order_id if case else None) or "（未提供）",
                  "case_id": handoff.case_id or "（未登记）", "agent": user.display}
        replies = [{"title": c["title"], "text": c["text"].format(**values)} for c in canned]
        return {"handoff": handoff.to_json(), "case": case_json(case) if case else None,
                "order": order, "shopper_name": name, "canned": replies,
                "reason_label": handoff_rules().reason(handoff.reason).label}

    async def _transcript(sender_id: str) -> Dict[str, Any]:
        if rasa is None:
            return {"items": [], "error": "未连接 Rasa 服务器，无法读取对话记录"}
        try:
            return {"items": transcript(await rasa.events(sender_id)), "error": None}
        except RasaUnavailable as error:
            logger.warning("transcript of a conversation unavailable: %s", error)
            return {"items": [], "error": "对话记录暂时读取不到（机器人服务未响应），请稍后刷新"}

    @app.get("/console/handoffs/<handoff_id:int>")
    async def conversation_page(request: Request, handoff_id: int) -> HTTPResponse:
        try:
            view = await _in_thread(conversation_view, handoff_id, request.ctx.user)
        except HandoffNotFound:
            return render(request, "error.html", status=404, message="该会话不存在")
        talk = await _transcript(view["handoff"]["sender_id"])
        return render(request, "conversation.html", transcript=talk["items"],
                      transcript_error=talk["error"], flash=request.args.get("flash"),
                      problem=request.args.get("error"), **view)

    @app.get("/api/handoffs/<handoff_id:int>")
    async def conversation_api(request: Request, handoff_id: int) -> HTTPResponse:
        try:
            handoff = await _in_thread(queue.get, handoff_id)
        except HandoffNotFound:
            return _error(404, "该会话不存在")
        talk = await _transcript(handoff.sender_id)
        return _json({"handoff": handoff.to_json(), "transcript": talk["items"],
                      "transcript_error": talk["error"]})

    @app.get("/console/handoffs/<handoff_id:int>/live")
    async def live(request: Request, handoff_id: int):
        """Server-sent events: new transcript items (`transcript`) and the handoff's state
        (`handoff`) as they happen, so the agent never reloads."""
        try:
            handoff = await _in_thread(queue.get, handoff_id)
        except HandoffNotFound:
            return _error(404, "该会话不存在")
        try:
            after = int(request.args.get("after", "-1"))
        except ValueError:
            after = -1
        response = await request.respond(content_type="text/event-stream; charset=utf-8",
                                         headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        last_state = None
        while True:
            lines = []
            if rasa is not None:
                try:
                    items = [i for i in transcript(await rasa.events(handoff.sender_id)) if i["index"] > after]
                except RasaUnavailable:
                    items = []
                if items:
                    after = items[-1]["index"]
                    lines.append(f"event: transcript\ndata: {json.dumps(items, ensure_ascii=False)}\n\n")
            current = await _in_thread(queue.get, handoff_id)
            state = (current.state, current.taken_by)
            if state != last_state:
                last_state = state
                lines.append(f"event: handoff\ndata: {json.dumps(current.to_json(), ensure_ascii=False)}\n\n")
            # A comment line keeps proxies from closing an idle stream.
            await response.send("".join(lines) or ": keep-alive\n\n")
            await asyncio.sleep(LIVE_POLL_SECONDS)

    # -- what an agent does

    def _done(request: Request, handoff_id: int, flash: Optional[str] = None,
              error: Optional[str] = None, status: int = 200) -> HTTPResponse:
        if _wants_json(request):
            return _json({"ok": error is None, "message": error or flash}, status=status if error else 200)
        query = {"flash": flash} if flash else {}
        if error:
            query = {"error": error}
        tail = ("?" + urlencode(query)) if query else ""
        return redirect(f"/console/handoffs/{handoff_id}{tail}", status=303)

    def _field(request: Request, name: str) -> str:
        if request.form:
            return (request.form.get(name) or "").strip()
        body = request.json if request.content_type.startswith("application/json") else None
        return str((body or {}).get(name) or "").strip()

    async def _send(handoff, events: List[Dict[str, Any]]) -> Optional[str]:
        if rasa is None:
            return "未连接 Rasa 服务器，消息没有发出"
        try:
            await rasa.append(handoff.sender_id, events)
        except RasaUnavailable as error:
            logger.warning("could not reach the shopper's conversation: %s", error)
            return "机器人服务暂时不可用，消息没有发出，请稍后重试（内容已保留）"
        return None

    def _require_own(handoff, user: ConsoleUser) -> None:
        if handoff.state == "taken" and handoff.taken_by != user.name:
            raise HandoffConflict(f"会话由 {handoff.taken_by} 负责，不能代为操作")
        if handoff.state != "taken":
            raise HandoffConflict("请先接手该会话" if handoff.state == "waiting" else "会话已交还机器人")

    def _handoff_action(own: bool):
        """Run an agent action on a handoff; `own`: only by the agent who took it. The
        queue's refusals become a message on the page (or JSON)."""
        def decorate(handler):
            async def wrapped(request: Request, handoff_id: int) -> HTTPResponse:
                try:
                    handoff = await _in_thread(queue.get, handoff_id)
                    if own:
                        _require_own(handoff, request.ctx.user)
                    return await handler(request, handoff, request.ctx.user)
                except HandoffNotFound:
                    return _done(request, handoff_id, error="该会话不存在", status=404)
                except HandoffConflict as conflict:
                    return _done(request, handoff_id, error=str(conflict), status=409)
            wrapped.__name__ = handler.__name__
            return wrapped
        return decorate

    @app.post("/console/handoffs/<handoff_id:int>/take")
    @_handoff_action(own=False)
    async def take(request: Request, handoff, user: ConsoleUser) -> HTTPResponse:
        handoff_id = handoff.id
        handoff = await _in_thread(queue.take, handoff_id, user.name)
        problem = await _send(handoff, [agent_message(
            handoff_rules().say("agent_took", agent=user.display), user.name, user.display)])
        return _done(request, handoff_id, flash="已接手该会话", error=problem)

    @app.post("/console/handoffs/<handoff_id:int>/reply")
    @_handoff_action(own=True)
    async def reply(request: Request, handoff, user: ConsoleUser) -> HTTPResponse:
        handoff_id = handoff.id
        text = _field(request, "text")
        if not text:
            return _done(request, handoff_id, error="回复内容不能为空", status=400)
        if len(text) > MAX_REPLY_CHARS:
            return _done(request, handoff_id, error=f"回复太长（最多{MAX_REPLY_CHARS}字）", status=400)
        problem = await _send(handoff, [agent_message(text, user.name, user.display)])
        if problem:
            return _done(request, handoff_id, error=problem, status=502)
        await _in_thread(queue.record, handoff_id, user.name, "agent_reply", {"text": text}, reply=True)
        return _done(request, handoff_id, flash="回复已发送")

    @app.post("/console/handoffs/<handoff_id:int>/note")
    @_handoff_action(own=True)
    async def note(request: Request, handoff, user: ConsoleUser) -> HTTPResponse:
        handoff_id = handoff.id
        text = _field(request, "text")
        if not text:
            return _done(request, handoff_id, error="备注不能为空", status=400)
        await _in_thread(queue.record, handoff_id, user.name, "note", {"text": text[:MAX_REPLY_CHARS]})
        return _done(request, handoff_id, flash="备注已保存（仅客服可见）")

    @app.post("/console/handoffs/<handoff_id:int>/grant")
    @_handoff_action(own=True)
    async def grant(request: Request, handoff, user: ConsoleUser) -> HTTPResponse:
        handoff_id = handoff.id
        if not handoff.case_id:
            return _done(request, handoff_id, error="该会话还没有工单，无法发放补偿", status=400)
        remedy = _field(request, "remedy")
        if remedy not in REMEDIES or remedy == "no_preference":
            return _done(request, handoff_id, error="请选择补偿方式", status=400)
        try:
            amount = Decimal(_field(request, "amount") or "0").quantize(Decimal("0.01"))
        except InvalidOperation:
            return _done(request, handoff_id, error="金额格式不对，例如 129.00", status=400)
        if amount < 0 or amount > Decimal("100000"):
            return _done(request, handoff_id, error="金额需在 0 到 100000 元之间", status=400)
        detail = _field(request, "text") or REMEDY_NAMES[remedy]
        offer = {"code": "agent_grant", "remedy": remedy, "amount": str(amount),
                 "text": detail, "granted_by": user.name, "needs_approval": False}
        await _in_thread(queue.record, handoff_id, user.name, "remedy_granted", offer)
        await _in_thread(store.resolve_with, handoff.case_id, remedy, offer, user.name)
        await _in_thread(_schedule_followup, handoff)
        message = f"已为您办理：{detail}" + (f"（¥{amount}）" if amount else "") + \
                  f"，案件 {handoff.case_id} 已处理完毕。"
        problem = await _send(handoff, [agent_message(message, user.name, user.display)])
        return _done(request, handoff_id, flash="补偿已记录，工单已解决", error=problem)

    def _schedule_followup(handoff) -> None:
        now = datetime.now(SHANGHAI)
        followups.schedule(handoff.case_id, handoff.sender_id, handoff.channel, now + followup_delay())

    @app.post("/console/handoffs/<handoff_id:int>/resolve")
    @_handoff_action(own=True)
    async def resolve(request: Request, handoff, user: ConsoleUser) -> HTTPResponse:
        handoff_id = handoff.id
        if not handoff.case_id:
            return _done(request, handoff_id, error="该会话还没有工单；处理完请直接交还机器人", status=400)
        text = _field(request, "text") or "人工客服已处理"
        await _in_thread(queue.record, handoff_id, user.name, "agent_resolved", {"text": text})
        await _in_thread(store.set_status, handoff.case_id, "resolved", user.name, text)
        await _in_thread(_schedule_followup, handoff)
        return _done(request, handoff_id, flash="工单已标记为已解决")

    @app.post("/console/handoffs/<handoff_id:int>/hand-back")
    @_handoff_action(own=True)
    async def hand_back(request: Request, handoff, user: ConsoleUser) -> HTTPResponse:
        handoff_id = handoff.id
        # The bot resumes first: if Rasa is down, the conversation stays with the agent.
        problem = await _send(handoff, [
            agent_message(handoff_rules().say("handed_back"), user.name, user.display),
            *resume_events()])
        if problem:
            return _done(request, handoff_id, error=problem, status=502)
        await _in_thread(queue.hand_back, handoff_id, user.name)
        if _wants_json(request):
            return _json({"ok": True, "message": "已交还机器人"})
        return redirect("/console/queue", status=303)

    # -- the case API (also for machines)

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
    async def photo(request: Request, filename: str) -> HTTPResponse:
        # Only names the store itself produces resolve: no traversal out of it.
        path = media.path_of(filename) if media is not None else None
        if path is None:
            return _error(404, "图片不存在")
        return await file(path, mime_type=media.mime_type(filename),
                          headers={"X-Content-Type-Options": "nosniff",
                                   "Cache-Control": "private, max-age=3600"})

    project = training_project or Project()
    training.register(app, render, _in_thread, _forbidden, project,
                      trainer_dir or project.root / "var" / "trainer")

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

    @app.listener("after_server_stop")
    async def close_rasa(app_: Sanic, loop) -> None:
        if rasa is not None:
            await rasa.close()

    return app

