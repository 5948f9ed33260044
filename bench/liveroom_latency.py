"""Live-room acceptance latency: the recorded sample stream is replayed at its own pace
against the running stack (action server and Rasa server, as `make run` starts them), and
a local stand-in for the platform's reply API records when each public reply arrives.

Prints, for the comments that must go private, how long each waited for its public
reply (median, p95, max, share within the 1-second commitment), how many got a private
conversation, and how many chatter comments got a reply (must be none) — next to the
latency of single complaints posted into a quiet room in the same run, as a ratio.

    python -m bench.liveroom_latency [--model models/assistant.tar.gz] [--stream FILE]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import aiohttp
from aiohttp import web

from bench.liveroom_bench import STREAM, load_stream
from bot.channels.liveroom import replay
from bot.liveroom.signature import HEADER, sign
from bot.nlu.evaluation import median, percentile
from tests.e2e.stack import Stack

ROOT = Path(__file__).resolve().parents[1]
PORTS = dict(rasa_port=45005, actions_port=45055, console_port=48000)
QUIET_COMPLAINTS = ["主播 我买的杯子收到就是裂的", "快递一周了还没到 物流也不动",
                    "客服一直不回我消息", "申请退款三天了还没处理", "优惠券没减 多扣了我20块"]


class Platform:
    """The platform's reply and private-message APIs: when each reply arrived."""

    def __init__(self) -> None:
        self.replies: Dict[str, float] = {}
        self.reply_texts: List[str] = []
        self.dm_users: set = set()
        self.arrived = asyncio.Event()

    async def reply(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.replies.setdefault(body["reply_to"], time.monotonic())
        self.reply_texts.append(body["text"])
        self.arrived.set()
        return web.json_response({})

    async def dm(self, request: web.Request) -> web.Response:
        self.dm_users.add((await request.json())["user_id"])
        return web.json_response({})

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/reply", self.reply)
        app.router.add_post("/dm", self.dm)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


async def quiet_latencies(url: str, secret: str, platform: Platform) -> List[float]:
    """One complaint at a time into an idle room: the baseline."""
    seconds = []
    async with aiohttp.ClientSession() as session:
        for n, text in enumerate(QUIET_COMPLAINTS):
            message_id = f"quiet-{secrets.token_hex(4)}-{n}"
            body = json.dumps({"message_id": message_id, "room_id": "room-quiet", "user_id": f"quiet-{message_id}",
                               "nickname": "安静的顾客", "text": text, "timestamp": time.time()},
                              ensure_ascii=False).encode("utf-8")
            start = time.monotonic()
            async with session.post(url, data=body, headers={"Content-Type": "application/json",
                                                               HEADER: sign(body, secret)}) as answer:
                assert answer.status == 202, await answer.text()
            while message_id not in platform.replies and time.monotonic() - start < 30:
                await asyncio.sleep(0.005)
            seconds.append(platform.replies.get(message_id, float("inf")) - start)
            await asyncio.sleep(2)  # let the private conversation finish before the next
    return seconds


async def until_health(stack: Stack, condition: Callable[[Dict], bool], seconds: float) -> None:
    """Poll the connector's GET / until `condition` holds on its answer (or time runs out)."""
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            async with session.get(f"{stack.base}/webhooks/liveroom/") as answer:
                if condition(await answer.json()):
                    return
            await asyncio.sleep(0.5)


async def warmed(stack: Stack) -> None:
    """Until the connector has warmed its screen and pipeline, a first comment also
    waits for the model to be read; the quiet-room baseline is a warm room."""
    await until_health(stack, lambda health: health.get("ready"), 120)


async def drained(stack: Stack) -> None:
    await until_health(stack, lambda health: health["queued"] == 0, 300)
    await asyncio.sleep(5)  # the last batch and its conversations


def describe(seconds: Sequence[float]) -> str:
    return (f"median {median(seconds) * 1000:.0f} ms, p95 {percentile(seconds, 0.95) * 1000:.0f} ms, "
            f"max {max(seconds) * 1000:.0f} ms")


async def run(model: Path, stream: Path) -> int:
    comments = load_stream(stream)
    must = {c["message_id"]: c for c in comments if c["label"] != "other"}
    chatter = {c["message_id"] for c in comments if c["label"] == "other"}

    platform = Platform()
    base = await platform.start()
    secret = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="liveroom-latency-") as workdir:
        stack = Stack(model, Path(workdir), **PORTS)
        stack.env.update(LIVEROOM_SECRET=secret, LIVEROOM_REPLY_URL=f"{base}/reply",
                         LIVEROOM_DM_URL=f"{base}/dm")
        stack.env.pop("REDIS_URL", None)
        await asyncio.to_thread(stack.start)
        try:
            url = f"{stack.base}/webhooks/liveroom/comments"
            await warmed(stack)
            quiet = await quiet_latencies(url, secret, platform)
            sent_at: Dict[str, float] = {}
            started = time.monotonic()
            totals = await replay(stream, url, secret, rate=1.0, batch_size=5, realtime=True, sent_at=sent_at)
            replay_seconds = time.monotonic() - started
            await drained(stack)
        finally:
            await asyncio.to_thread(stack.stop)
            await platform.runner.cleanup()

    waited = [platform.replies[m] - sent_at[m] for m in must if m in platform.replies]
    answered_chatter = sorted(m for m in chatter if m in platform.replies)
    within = sum(w <= 1.0 for w in waited)
    private = sum(c["user_id"] in platform.dm_users for c in must.values())
    print(f"live-room stream replayed at its own pace: {totals['sent']} deliveries in {replay_seconds:.0f} s "
          f"({totals['sent'] / replay_seconds:.1f}/s), {totals['duplicates']} redeliveries, "
          f"{totals['retries']} retries after 429")
    print(f"must go private: {len(must)}; public reply for {len(waited)}; within 1 s: {within} "
          f"({within / max(1, len(must)):.1%}); private conversation (DM sent) for {private}")
    if waited:
        print(f"public-reply latency at the stream's rate: {describe(waited)}")
    print(f"public-reply latency of a lone complaint in a quiet room: {describe(quiet)}")
    if waited:
        print(f"ratio (stream median / quiet median): {median(waited) / median(quiet):.2f}x")
    print(f"chatter comments that got a reply: {len(answered_chatter)} of {len(chatter)}"
          + (f" e.g. {[c['text'] for c in comments if c['message_id'] in answered_chatter[:5]]}"
             if answered_chatter else ""))
    missing = [c["text"] for m, c in must.items() if m not in platform.replies]
    if missing:
        print(f"no public reply: {missing[:5]}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.liveroom_latency")
    parser.add_argument("--model", default=str(ROOT / "models" / "assistant.tar.gz"))
    parser.add_argument("--stream", default=str(STREAM))
    args = parser.parse_args(argv)
    return asyncio.run(run(Path(args.model).resolve(), Path(args.stream)))


if __name__ == "__main__":
    raise SystemExit(main())
