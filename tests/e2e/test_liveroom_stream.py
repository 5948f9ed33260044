"""The live-room connector against the running stack: a short recorded stream is
replayed with the replay tool; exactly the complaint comments get a masked public reply
(posted to the platform's reply API, here a local server) and a private conversation
with a case in progress; chatter and redeliveries get nothing, a user flooding the
model is rate-limited, and a fan who floods the room with chatter is still heard.
Bad signatures, malformed events and a full queue are refused."""
from __future__ import annotations

import json
import re
import shutil
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from bot.channels.liveroom import main as liveroom_tool
from bot.liveroom.signature import HEADER, sign, verify
from tests.e2e.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-liveroom-secret"
QUEUE_SIZE = 40
RUN = uuid.uuid4().hex[:6]

COMPLAINTS = {  # user -> comment
    f"lr-{RUN}-a": "主播！昨天收到的保温杯到手就是坏的，根本不保温，气死了",
    f"lr-{RUN}-b": "家人们 我的货五天了还没发货，物流一直不更新😡 电话13812345678",
    f"lr-{RUN}-c": "退货退款申请了一周了没人处理，订单号4883690060267735468",
}
FLOODER_COMPLAINT = "主播 我买的炒锅收到就漏水 根本没法用😭"
CHATTER = ["主播好", "666666", "扣1", "求链接", "这个裙子有M码吗", "😍😍😍", "主播好漂亮",
           "福袋什么时候开", "已下单 等发货哦", "上次买的很好 没有质量问题"]


class Platform(BaseHTTPRequestHandler):
    """The platform's reply and private-message APIs: records what the bot posts."""

    received = {"/reply": [], "/dm": []}

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.setdefault(self.path, []).append(
            {"body": json.loads(raw), "signed": verify(raw, self.headers.get(HEADER), SECRET)})
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def platform():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Platform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def live_stack(trained_model, tmp_path_factory, platform):
    workdir = tmp_path_factory.mktemp("liveroom-stack")
    policy = workdir / "policy"
    shutil.copytree(ROOT / "bot" / "policy", policy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rules = (policy / "liveroom.yml").read_text(encoding="utf-8")
    (policy / "liveroom.yml").write_text(rules.replace("size: 5000", f"size: {QUEUE_SIZE}"), encoding="utf-8")
    stack = Stack(trained_model, workdir, rasa_port=55005, actions_port=55055, console_port=58000)
    stack.env.update(LIVEROOM_SECRET=SECRET, LIVEROOM_REPLY_URL=f"{platform}/reply",
                     LIVEROOM_DM_URL=f"{platform}/dm", POLICY_DIR=str(policy),
                     LIVEROOM_RATE_LIMIT="5", LIVEROOM_RATE_WINDOW_SECONDS="60")
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def webhook(stack) -> str:
    return f"{stack.base}/webhooks/liveroom/comments"


def event(n: int, user: str, text: str) -> dict:
    return {"message_id": f"dy-{RUN}-{n}", "room_id": "room-8848", "user_id": user,
            "nickname": f"{user[-1]}号粉丝", "text": text, "timestamp": 1718712188.0 + n * 0.05}


def post(stack, payload, secret=SECRET, raw: bytes = None):
    data = raw if raw is not None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return requests.post(webhook(stack), data=data, timeout=30,
                         headers={"Content-Type": "application/json", HEADER: sign(data, secret)})


def wait_until_triaged(stack, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        health = requests.get(f"{stack.base}/webhooks/liveroom/", timeout=10).json()
        if health["queued"] == 0:
            time.sleep(3)  # the last batch is being handled
            return requests.get(f"{stack.base}/webhooks/liveroom/", timeout=10).json()
        time.sleep(0.5)
    raise TimeoutError("the live-room queue did not drain")


def test_a_bad_signature_and_a_malformed_event_are_refused(live_stack):
    assert post(live_stack, [event(0, "u-x", "主播好")], secret="wrong").status_code == 401
    unsigned = requests.post(webhook(live_stack), json=[event(0, "u-x", "主播好")], timeout=30)
    assert unsigned.status_code == 401
    bad = post(live_stack, [event(0, "u-x", "主播好"), {"message_id": "m", "text": "hi"}])
    assert bad.status_code == 400 and "comments[1]" in bad.json()["error"]


def test_a_batch_larger_than_the_free_queue_gets_429_and_nothing_of_it_is_accepted(live_stack):
    batch = [event(1000 + n, f"u-busy-{n}", "主播好") for n in range(QUEUE_SIZE + 1)]
    answer = post(live_stack, batch)
    assert answer.status_code == 429 and answer.headers.get("Retry-After")
    # The retry, in parts that fit, is accepted in full: nothing was marked as seen.
    first, second = post(live_stack, batch[:20]), post(live_stack, batch[20:])
    assert first.json()["accepted"] + second.json()["accepted"] == len(batch)
    wait_until_triaged(live_stack)


def test_replaying_a_stream_answers_exactly_the_complaints(live_stack, tmp_path, monkeypatch, capsys):
    stream, n = [], 0
    for round_ in range(3):
        for text in CHATTER:
            n += 1
            stream.append(event(n, f"lr-{RUN}-fan{n % 10}", text))
        user, complaint = list(COMPLAINTS.items())[round_]
        n += 1
        stream.append(event(n, user, complaint))
        stream.append(dict(stream[-1]))  # the platform delivers it twice
    # A fan who floods the room with chatter and then complains is still heard: the rate
    # limit counts only what reaches the full model.
    flooder = f"lr-{RUN}-flood"
    for k in range(12):
        n += 1
        stream.append(event(n, flooder, f"冲冲冲{k}"))
    n += 1
    stream.append(event(n, flooder, FLOODER_COMPLAINT))
    # A user who posts complaint after complaint gets the full model 5 times a minute.
    spammer = f"lr-{RUN}-spam"
    for k in range(8):
        n += 1
        stream.append(event(n, spammer, f"客服呢 我的订单{k}号一直不发货 人呢😡"))
    path = tmp_path / "stream.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in stream), encoding="utf-8")

    monkeypatch.setenv("LIVEROOM_SECRET", SECRET)
    Platform.received["/reply"].clear()
    assert liveroom_tool(["replay", str(path), "--rate", "100", "--url", webhook(live_stack)]) == 0
    totals = json.loads(capsys.readouterr().out)
    assert totals["duplicates"] == 3
    health = wait_until_triaged(live_stack)
    assert health["counters"]["screened_out"] > 0  # chatter stopped at the fast screen
    assert health["ready"]  # warmed up: a later first comment does not wait for the model
    assert health["counters"]["rate_limited"] == 8 - 5

    replies = Platform.received["/reply"]
    spam_ids = {c["message_id"] for c in stream if c["user_id"] == spammer}
    complaint_ids = {c["message_id"] for c in stream if c["user_id"] in COMPLAINTS
                     or c["text"] == FLOODER_COMPLAINT}
    answered = [r["body"]["reply_to"] for r in replies]
    assert set(answered) - spam_ids == complaint_ids
    assert len(set(answered) & spam_ids) <= 5
    assert len(answered) == len(set(answered))  # once each, redelivery or not
    for reply in replies:
        assert reply["signed"] and reply["body"]["room_id"] == "room-8848"
        assert re.fullmatch(r"@.+ 已私信您，请查看消息", reply["body"]["text"])
        assert not re.search(r"\d{6,}", reply["body"]["text"])

    for user, complaint in COMPLAINTS.items():
        cases = live_stack.cases(user)
        assert len(cases) == 1 and cases[0]["channel"] == "liveroom", cases
        assert cases[0]["description"] == complaint and cases[0]["status"] == "open"
        dms = [d["body"] for d in Platform.received["/dm"] if d["body"]["user_id"] == user]
        assert dms and cases[0]["id"] in " ".join(d["text"] for d in dms)
    assert len(live_stack.cases(flooder)) == 1
    for fan in {c["user_id"] for c in stream if c["user_id"] not in COMPLAINTS} - {flooder, spammer}:
        assert live_stack.cases(fan) == []
        events = live_stack.tracker(fan).get("events") or []
        assert not [e for e in events if e["event"] == "user"], fan
