"""The live-room connector (直播间评论): a Rasa channel named `liveroom` that takes the
comment stream of a live sale, catches the complaints and the requests for a person,
answers them in public in a few words, and continues each in a private conversation.

POST /webhooks/liveroom/comments — one comment, a list, or {"comments": [...]}, each
{message_id, room_id, user_id, nickname, text, timestamp}, signed with
`X-Signature: sha256=<HMAC-SHA256 of the body with LIVEROOM_SECRET>`.
- 401 on a bad signature, 400 with the reason on a malformed event, 429 (Retry-After)
  when the triage queue cannot take the whole batch — nothing of it was accepted then;
  202 otherwise, with how many were accepted and how many were redeliveries (duplicates).
- Triage (bot/liveroom): a fast batch screen with the model's linear classifier, then the
  full NLU pipeline (one graph run per batch) for the comments that may matter;
  complaint intents and requests for a person above the confidence in
  bot/policy/liveroom.yml go private, the rest gets no reply. A user whose comments
  reach the full pipeline more often than the rate limit allows is rate-limited there.
- Going private: the public reply ("@昵称 已私信您") is posted to LIVEROOM_REPLY_URL, and
  the comment starts (or continues) the conversation whose id is the platform user id —
  the id the shop's app uses too, so the shopper finds the same conversation there. The
  bot's private messages go to LIVEROOM_DM_URL (the platform's private-message API).
  Both outbound calls are signed like the inbound ones.

`python -m bot.channels.liveroom replay FILE.jsonl --rate N` feeds a recorded stream to
the webhook.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.liveroom.events import Comment, EventError, parse_events
from bot.liveroom.limits import limits_from_env
from bot.liveroom.masking import mask, public_reply
from bot.liveroom.screen import Screen, linear_model_from_archive
from bot.liveroom.signature import HEADER, sign, verify
from bot.liveroom.triage import PRIVATE_INTENTS, LiveRoomRules, liveroom_rules, private_parse

logger = logging.getLogger(__name__)

DEV_SECRET = "dev-liveroom-secret"
OUTBOUND_TIMEOUT = aiohttp.ClientTimeout(total=5)


@dataclass
class Counters:
    """What the connector did since it started (GET /webhooks/liveroom/)."""

    received: int = 0
    duplicates: int = 0
    rate_limited: int = 0
    refused_busy: int = 0
    screened_out: int = 0
    parsed: int = 0
    private: int = 0
    public_replies: int = 0
    public_reply_failures: int = 0
    by_intent: Dict[str, int] = field(default_factory=dict)


async def _post_signed(session: aiohttp.ClientSession, url: str, payload: Dict[str, Any],
                       secret: str) -> bool:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    try:
        async with session.post(url, data=body, headers={
                "Content-Type": "application/json", HEADER: sign(body, secret)}) as answer:
            return 200 <= answer.status < 300
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        logger.warning("live room: %s unreachable: %s", url, type(error).__name__)
        return False


class LiveRoomPrivateOutput(OutputChannel):
    """The bot's private messages (私信) to a live-room user, through the platform's
    private-message API when LIVEROOM_DM_URL is set; they are in the transcript either
    way."""

    @classmethod
    def name(cls) -> Text:
        return "liveroom"

    def __init__(self, channel: "LiveRoomInput") -> None:
        self.channel = channel

    async def send_text_message(self, recipient_id: Text, text: Text, **kwargs: Any) -> None:
        await self.channel.send_private(recipient_id, {"text": text})

    async def send_text_with_buttons(self, recipient_id: Text, text: Text,
                                     buttons: List[Dict[Text, Any]], **kwargs: Any) -> None:
        await self.channel.send_private(recipient_id, {
            "text": text, "buttons": [{"title": b.get("title"), "payload": b.get("payload")}
                                      for b in buttons]})


def parse_batch(agent, texts: List[str]) -> List[Dict[str, Any]]:
    """Parse data for many texts in one run of the model's NLU graph, the same as
    `agent.parse_message` gives for each: the graph takes a list of messages, and one
    run for a batch saves the per-run overhead of the graph (a third of a parse)."""
    processor = agent.processor
    target = processor.model_metadata.nlu_target
    results = processor.graph_runner.run(
        inputs={PLACEHOLDER_MESSAGE: [UserMessage(t) for t in texts],
                PLACEHOLDER_TRACKER: DialogueStateTracker.from_events("liveroom", [])},
        targets=[target])
    parses = []
    for message in results[target]:
        parse = {"text": "", "intent": {"name": None, "confidence": 0.0}, "entities": []}
        parse.update(message.as_dict(only_output_properties=True))
        parses.append(parse)
    return parses


class LiveRoomInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "liveroom"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls()

    def __init__(self, rules: Optional[LiveRoomRules] = None,
                 environ: Optional[Dict[str, str]] = None) -> None:
        environ = dict(os.environ if environ is None else environ)
        self.rules = rules or liveroom_rules()
        self.secret = environ.get("LIVEROOM_SECRET", "").strip()
        if not self.secret:
            logger.warning("LIVEROOM_SECRET is not set: the live-room webhook accepts the "
                           "development secret %r. Never run production without it.", DEV_SECRET)
            self.secret = DEV_SECRET
        self.reply_url = environ.get("LIVEROOM_REPLY_URL", "").strip() or None
        self.dm_url = environ.get("LIVEROOM_DM_URL", "").strip() or None
        self.deduper, self.limiter, self.state_backend = limits_from_env(environ)
        self.counters = Counters()
        self.queue: Optional[asyncio.Queue] = None
        self.workers: List[asyncio.Task] = []
        self._http: Optional[aiohttp.ClientSession] = None
        self._screen: Optional[Screen] = None
        self._screen_model: Optional[Path] = None
        self._replies: set = set()
        # True once the screen and the pipeline have been warmed up (GET / shows it):
        # until then the first comments wait for the model to be read from its archive.
        self.ready = False

    def get_output_channel(self) -> Optional[OutputChannel]:
        return LiveRoomPrivateOutput(self)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=OUTBOUND_TIMEOUT)
        return self._http

    async def send_private(self, user_id: str, payload: Dict[str, Any]) -> None:
        if self.dm_url:
            await _post_signed(self._session(), self.dm_url, {"user_id": user_id, **payload}, self.secret)

    async def reply_publicly(self, comment: Comment) -> None:
        text = public_reply(comment.nickname, self.rules.public_reply)
        if not self.reply_url:
            logger.info("live room %s: public reply (no LIVEROOM_REPLY_URL): %s", comment.room_id, text)
            return
        ok = await _post_signed(self._session(), self.reply_url, {
            "room_id": comment.room_id, "reply_to": comment.message_id, "text": text}, self.secret)
        if ok:
            self.counters.public_replies += 1
        else:
            self.counters.public_reply_failures += 1

    # -- triage

    def screen_for(self, agent) -> Screen:
        model = Path(agent.processor.model_path)
        if self._screen is None or model != self._screen_model:
            self._screen = Screen(linear_model_from_archive(model), PRIVATE_INTENTS)
            self._screen_model = model
        return self._screen

    async def triage(self, batch: List[Comment], agent,
                     on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        screen = await asyncio.to_thread(self.screen_for, agent)
        scores = await asyncio.to_thread(screen.scores, [c.text for c in batch])
        candidates = []
        for comment, score in zip(batch, scores):
            if not self.rules.passes_screen(comment.text, score):
                self.counters.screened_out += 1
            # The rate limit guards the full model, not the comment box: a user's chatter
            # stops at the screen for almost nothing, so a fan who spams 扣1 and then
            # complains is still heard; only what would reach the full model counts.
            elif await self.limiter.allow(comment.user_id):
                candidates.append(comment)
            else:
                self.counters.rate_limited += 1
        if not candidates:
            return
        # One pass of the NLU graph over all candidates, off the event loop so the
        # webhook keeps accepting comments meanwhile.
        parses = await asyncio.to_thread(parse_batch, agent, [c.text for c in candidates])
        self.counters.parsed += len(candidates)
        private = []
        for comment, parse in zip(candidates, parses):
            parse = private_parse(self.rules, parse)
            if parse is None:
                continue
            intent = parse["intent"]["name"]
            self.counters.private += 1
            self.counters.by_intent[intent] = self.counters.by_intent.get(intent, 0) + 1
            logger.info("live room %s: %s from a user: %s", comment.room_id, intent, mask(comment.text)[:80])
            # Every public reply of the batch goes out before any private conversation
            # starts: the room sees its answer within the triage time, not after the
            # conversations of the comments ahead of it.
            task = asyncio.create_task(self.reply_publicly(comment))
            self._replies.add(task)  # a task nobody holds can be collected mid-flight
            task.add_done_callback(self._replies.discard)
            private.append((comment, parse))
        for comment, parse in private:
            await on_new_message(UserMessage(
                comment.text, LiveRoomPrivateOutput(self), comment.user_id,
                input_channel=self.name(), parse_data=parse,
                metadata={"liveroom": {"room_id": comment.room_id, "message_id": comment.message_id,
                                       "nickname": comment.nickname}}))

    async def warm_up(self, agent) -> None:
        """Load the screen and run the pipeline once, so the first comment of a sale
        does not wait for the model to be read from its archive."""
        screen = await asyncio.to_thread(self.screen_for, agent)
        await asyncio.to_thread(screen.scores, ["主播好"])
        await asyncio.to_thread(parse_batch, agent, ["主播好", "收到的杯子是坏的"])
        self.ready = True

    async def _ready_agent(self, app):
        agent = app.ctx.agent
        while agent is None or not agent.is_ready():
            await asyncio.sleep(0.5)
            agent = app.ctx.agent
        return agent

    async def _warm_when_ready(self, app) -> None:
        try:
            await self.warm_up(await self._ready_agent(app))
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("live room: warming up the triage failed; the first comments will be slower")

    async def work(self, app, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        assert self.queue is not None
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.rules.batch_size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self.triage(batch, await self._ready_agent(app), on_new_message)
            except asyncio.CancelledError:
                raise
            except Exception:
                # One bad batch must not stop the room: log it and go on.
                logger.exception("live room: triage of %d comments failed", len(batch))
            finally:
                for _ in batch:
                    self.queue.task_done()

    # -- the webhook

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("liveroom_webhook", __name__)

        @webhook.listener("after_server_start")
        async def start_workers(app, loop) -> None:
            self.queue = asyncio.Queue(maxsize=self.rules.queue_size)
            self.workers = [asyncio.create_task(self.work(app, on_new_message))
                            for _ in range(self.rules.workers)]
            self.workers.append(asyncio.create_task(self._warm_when_ready(app)))

        @webhook.listener("before_server_stop")
        async def stop_workers(app, loop) -> None:
            for task in self.workers:
                task.cancel()
            if self._http is not None:
                await self._http.close()

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", "ready": self.ready, "state": self.state_backend,
                                  "queued": self.queue.qsize() if self.queue else 0,
                                  "counters": self.counters.__dict__})

        @webhook.route("/comments", methods=["POST"])
        async def comments(request: Request) -> HTTPResponse:
            body = request.body or b""
            if not verify(body, request.headers.get(HEADER), self.secret):
                return response.json({"error": "签名无效：X-Signature 须为 sha256=<HMAC-SHA256(body)>"},
                                     status=401)
            try:
                batch = parse_events(body)
            except EventError as error:
                return response.json({"error": str(error)}, status=400)
            if self.queue is None:
                return response.json({"error": "正在启动，请稍后重试"}, status=503,
                                     headers={"Retry-After": "1"})
            # All or nothing: a batch that does not fit is refused before anything of it
            # counts as seen, so the platform's retry is not taken for a duplicate.
            if self.queue.maxsize - self.queue.qsize() < len(batch):
                self.counters.refused_busy += len(batch)
                return response.json({"error": "处理队列已满，请稍后重试"}, status=429,
                                     headers={"Retry-After": "1"})
            accepted = duplicates = 0
            for comment in batch:
                self.counters.received += 1
                if not await self.deduper.first_time(comment.message_id):
                    duplicates += 1
                else:
                    self.queue.put_nowait(comment)
                    accepted += 1
            self.counters.duplicates += duplicates
            return response.json({"accepted": accepted, "duplicates": duplicates}, status=202)

        return webhook


# --------------------------------------------------------------------------- replay


def _load_stream(path: Path) -> List[Dict[str, Any]]:
    comments = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                comments.append(json.loads(line))
            except ValueError as error:
                raise SystemExit(f"{path}:{number}: not JSON ({error})")
    return comments


async def replay(path: Path, url: str, secret: str, rate: float, batch_size: int = 20,
                 realtime: bool = False, sent_at: Optional[Dict[str, float]] = None) -> Dict[str, int]:
    """Send the recorded stream, `rate` comments a second (or at its own pace with
    `realtime`), in small signed batches; a 429 is retried after its Retry-After.
    `sent_at`, when given, receives each message id's time.monotonic() of sending."""
    comments = _load_stream(path)
    totals = {"sent": 0, "accepted": 0, "duplicates": 0, "retries": 0}
    start = time.monotonic()
    first_ts = comments[0].get("timestamp", 0) if comments else 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for offset in range(0, len(comments), batch_size):
            batch = comments[offset:offset + batch_size]
            due = (batch[0].get("timestamp", first_ts) - first_ts) if realtime else offset / rate
            await asyncio.sleep(max(0.0, start + due - time.monotonic()))
            events = [{k: c[k] for k in ("message_id", "room_id", "user_id", "nickname", "text", "timestamp")
                       if k in c} for c in batch]
            body = json.dumps({"comments": events}, ensure_ascii=False).encode("utf-8")
            while True:
                posted = time.monotonic()
                async with session.post(url, data=body, headers={
                        "Content-Type": "application/json", HEADER: sign(body, secret)}) as answer:
                    if answer.status == 429:
                        totals["retries"] += 1
                        await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                        continue
                    data = await answer.json()
                    if answer.status != 202:
                        raise SystemExit(f"the webhook answered {answer.status}: {data}")
                    break
            totals["sent"] += len(batch)
            if sent_at is not None:
                for comment in events:
                    sent_at.setdefault(comment["message_id"], posted)
            for key in ("accepted", "duplicates"):
                totals[key] += data[key]
    return totals


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.channels.liveroom",
                                     description="Live-room connector tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    play = commands.add_parser("replay", help="feed a recorded comment stream (JSON lines) to the webhook")
    play.add_argument("file", type=Path)
    play.add_argument("--rate", type=float, default=0.0,
                      help="comments per second (default: the stream's own timestamps)")
    play.add_argument("--url", default=os.environ.get("LIVEROOM_WEBHOOK_URL",
                                                      "http://localhost:5005/webhooks/liveroom/comments"))
    play.add_argument("--batch", type=int, default=20, help="comments per request")
    args = parser.parse_args(argv)
    secret = os.environ.get("LIVEROOM_SECRET", "").strip() or DEV_SECRET
    if args.rate < 0:
        parser.error("--rate must be positive")
    started = time.monotonic()
    totals = asyncio.run(replay(args.file, args.url, secret, args.rate or 1.0, args.batch,
                                realtime=not args.rate))
    seconds = time.monotonic() - started
    print(json.dumps({**totals, "seconds": round(seconds, 2),
                      "per_second": round(totals["sent"] / seconds, 1) if seconds else None},
                     ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
