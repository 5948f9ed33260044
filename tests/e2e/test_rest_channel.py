"""The running stack over HTTP: Rasa server + action server, REST channel on a test port."""
import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from bot.categories import CATEGORIES
from bot.replies.acknowledgement import reply_book

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).with_name("rasa"))
RASA_PORT, ACTIONS_PORT = 15005, 15055
BASE = f"http://localhost:{RASA_PORT}"
TOKEN = secrets.token_hex(16)


def wait_for(url, process, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not answer within {seconds}s")


@pytest.fixture(scope="module")
def stack(trained_model, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("stack")
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://localhost:{ACTIONS_PORT}/webhook"\n'
        f'tracker_store:\n  type: SQL\n  dialect: "sqlite"\n  db: "{workdir / "tracker.db"}"\n',
        encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    logs = [open(workdir / "actions.log", "w"), open(workdir / "rasa.log", "w")]
    actions = subprocess.Popen([RASA, "run", "actions", "--actions", "actions", "--port", str(ACTIONS_PORT)],
                               cwd=ROOT, env=env, stdout=logs[0], stderr=subprocess.STDOUT)
    rasa = subprocess.Popen([RASA, "run", "--model", str(trained_model), "--port", str(RASA_PORT),
                             "--endpoints", str(endpoints), "--credentials", "credentials.yml",
                             "--enable-api", "--auth-token", TOKEN],
                            cwd=ROOT, env=env, stdout=logs[1], stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://localhost:{ACTIONS_PORT}/health", actions)
        wait_for(f"{BASE}/webhooks/rest/", rasa)
        wait_for(f"{BASE}/status?token={TOKEN}", rasa)
        yield BASE
    finally:
        for process in (rasa, actions):
            process.terminate()
        for process in (rasa, actions):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


def say(base, text, sender=None):
    sender = sender or f"shopper-{uuid.uuid4().hex[:8]}"
    response = requests.post(f"{base}/webhooks/rest/webhook",
                             json={"sender": sender, "message": text}, timeout=60)
    response.raise_for_status()
    return response.json()


COMPLAINTS = {
    "quality": ("新买的吹风机用了一次就冒火花，还有焦味", "新買的吹風機用了一次就冒火花，還有焦味"),
    "logistics": ("付款五天了物流信息一直没更新", "付款五天了物流資訊一直沒更新"),
    "service": ("客服回复全是复制粘贴，问什么都敷衍", "客服回覆全是複製貼上，問什麼都敷衍"),
    "return": ("裤子太短了，我想退货怎么操作", "褲子太短了，我想退貨怎麼操作"),
    "transaction": ("主播说的券后价九十九，我付了一百二十九", "主播說的券後價九十九，我付了一百二十九"),
}


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_gets_its_own_reply_in_simplified_and_traditional(stack, category):
    next_step = reply_book().categories[category].next_step
    for text in COMPLAINTS[category]:
        replies = say(stack, text)
        assert len(replies) == 1, replies
        assert next_step in replies[0]["text"], (text, replies)
        assert "订单号" in replies[0]["text"]


def test_greeting_is_answered_in_chinese(stack):
    replies = say(stack, "你好呀")
    assert replies and "售后" in replies[0]["text"]


def test_unclear_message_offers_the_five_categories_as_buttons(stack):
    replies = say(stack, "qwxz zzkj")
    buttons = replies[0].get("buttons", [])
    assert [b["payload"] for b in buttons] == [f"/complain_{c}" for c in CATEGORIES]


def test_a_button_click_continues_the_conversation(stack):
    sender = f"shopper-{uuid.uuid4().hex[:8]}"
    say(stack, "qwxz zzkj", sender)
    replies = say(stack, "/complain_logistics", sender)
    assert reply_book().categories["logistics"].next_step in replies[0]["text"]


def test_the_tracker_keeps_the_shoppers_original_words(stack):
    sender = f"shopper-{uuid.uuid4().hex[:8]}"
    original = "快遞員態度超差！！！包裹直接扔門口😡😡"
    say(stack, original, sender)
    tracker = requests.get(f"{stack}/conversations/{sender}/tracker",
                           params={"token": TOKEN}, timeout=30).json()
    user_events = [e for e in tracker["events"] if e["event"] == "user"]
    assert user_events[-1]["text"] == original
    assert user_events[-1]["parse_data"]["intent"]["name"] == "complain_logistics"


def test_conversations_api_needs_the_token(stack):
    response = requests.get(f"{stack}/conversations/anyone/tracker", timeout=30)
    assert response.status_code == 401


def test_a_huge_message_still_gets_an_answer(stack):
    replies = say(stack, "快递太慢了" * 4000)
    assert replies and replies[0]["text"]


def test_malformed_request_is_refused_and_the_server_keeps_working(stack):
    response = requests.post(f"{stack}/webhooks/rest/webhook", data="{not json",
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert 400 <= response.status_code < 500
    assert say(stack, "你好")
