"""The agent console's access rules over HTTP, against the running stack: log-in is
required, cookies are HttpOnly and SameSite, state-changing requests need the CSRF token,
guessing passwords is throttled, and the Rasa HTTP API answers only with its token."""
from __future__ import annotations

import re
import uuid

import requests

from tests.e2e.stack import CONSOLE_USERS


def login_form(session: requests.Session, console: str) -> str:
    page = session.get(f"{console}/login", timeout=30)
    assert page.status_code == 200
    return re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)


def log_in(console: str, name: str, password: str = None) -> requests.Session:
    session = requests.Session()
    token = login_form(session, console)
    response = session.post(f"{console}/login", data={
        "username": name, "password": password or CONSOLE_USERS[name][2],
        "login_csrf": token, "next": "/console/queue"}, allow_redirects=False, timeout=30)
    assert response.status_code == 303, response.text
    return session


def csrf_of(session: requests.Session, console: str) -> str:
    page = session.get(f"{console}/console/queue", timeout=30)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def escalated_handoff(stack) -> int:
    sender = f"shopper-{uuid.uuid4().hex[:8]}"
    replies = stack.say("转人工", sender)
    assert "已为您转接人工客服" in " ".join(r.get("text", "") for r in replies)
    queue = requests.get(f"{stack.console}/api/queue", timeout=30,
                         headers={"Authorization": f"Bearer {stack.agent_token}"}).json()
    return next(r["handoff"]["id"] for r in queue["rows"] if r["handoff"]["sender_id"] == sender)


def test_pages_and_api_need_a_log_in(stack):
    page = requests.get(f"{stack.console}/console/queue", allow_redirects=False, timeout=30)
    assert page.status_code == 302 and page.headers["location"].startswith("/login")
    assert requests.get(f"{stack.console}/api/queue", timeout=30).status_code == 401
    assert requests.get(f"{stack.console}/api/queue", timeout=30,
                        headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_a_session_cookie_is_httponly_and_same_site_and_logout_ends_it(stack):
    session = log_in(stack.console, "dawei")
    cookie = next(c for c in session.cookies if c.name == "shouhou_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert cookie.get_nonstandard_attr("SameSite") == "Strict"
    assert session.get(f"{stack.console}/console/queue", timeout=30).status_code == 200
    token = csrf_of(session, stack.console)
    session.post(f"{stack.console}/logout", data={"csrf_token": token}, timeout=30)
    # The old cookie is worthless on the server, even if a browser kept it.
    again = requests.get(f"{stack.console}/console/queue", allow_redirects=False, timeout=30,
                         cookies={"shouhou_session": cookie.value})
    assert again.status_code == 302


def test_state_changes_without_the_csrf_token_are_refused(stack):
    handoff = escalated_handoff(stack)
    session = log_in(stack.console, "dawei")
    url = f"{stack.console}/console/handoffs/{handoff}/take"
    assert session.post(url, timeout=30, allow_redirects=False).status_code == 403
    assert session.post(url, data={"csrf_token": "forged"}, timeout=30,
                        allow_redirects=False).status_code == 403
    state = session.get(f"{stack.console}/api/handoffs/{handoff}", timeout=30).json()
    assert state["handoff"]["state"] == "waiting"  # nothing happened
    taken = session.post(url, data={"csrf_token": csrf_of(session, stack.console)},
                         allow_redirects=False, timeout=30)
    assert taken.status_code == 303
    state = session.get(f"{stack.console}/api/handoffs/{handoff}", timeout=30).json()
    assert state["handoff"]["state"] == "taken" and state["handoff"]["taken_by"] == "dawei"


def test_another_agent_cannot_take_or_answer_a_taken_conversation(stack):
    handoff = escalated_handoff(stack)
    first = log_in(stack.console, "dawei")
    first.post(f"{stack.console}/console/handoffs/{handoff}/take",
               data={"csrf_token": csrf_of(first, stack.console)}, timeout=30)
    second = log_in(stack.console, "xiaomei")
    token = csrf_of(second, stack.console)
    for action, data in (("take", {}), ("reply", {"text": "你好"})):
        response = second.post(f"{stack.console}/console/handoffs/{handoff}/{action}",
                               data={"csrf_token": token, **data}, timeout=30,
                               headers={"Accept": "application/json"})
        assert response.status_code == 409 and "dawei" in response.json()["message"]


def test_a_login_without_the_form_token_is_refused(stack):
    response = requests.post(f"{stack.console}/login", data={
        "username": "dawei", "password": CONSOLE_USERS["dawei"][2]}, allow_redirects=False, timeout=30)
    assert response.status_code == 403 and "shouhou_session" not in response.cookies


def test_guessing_a_password_is_throttled(stack):
    name = "boss"
    session = requests.Session()
    for _ in range(5):
        response = session.post(f"{stack.console}/login", data={
            "username": name, "password": "not-the-password", "login_csrf": login_form(session, stack.console)},
            allow_redirects=False, timeout=30)
        assert response.status_code == 401 and "用户名或密码错误" in response.text
    # Now even the right password waits.
    response = session.post(f"{stack.console}/login", data={
        "username": name, "password": CONSOLE_USERS[name][2], "login_csrf": login_form(session, stack.console)},
        allow_redirects=False, timeout=30)
    assert response.status_code == 429 and "15分钟" in response.text
    # Other agents at the same desk are not locked out.
    assert log_in(stack.console, "xiaomei")


def test_the_rasa_http_api_needs_its_token(stack):
    url = f"{stack.base}/conversations/someone/tracker"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, params={"token": "wrong"}, timeout=30).status_code == 401
    assert requests.get(url, params={"token": stack.token}, timeout=30).status_code == 200
