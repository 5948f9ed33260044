"""Shopper messages out of the configured tracker store, masked and pseudonymous, one JSON
line per message: the raw material a trainer (训练师) mines for candidate intents.

Read from the store itself through Rasa's tracker store classes, never over HTTP: the
`/conversations/{id}/story` endpoint can come back empty after a restart
(RasaHQ/rasa#11151). `python -m bot.trainer export --help`."""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import warnings
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from bot.masking import mask

# China has kept one offset all year since 1991: a fixed zone needs no tz database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
ESCALATE = "action_escalate"
# Bookkeeping actions that say nothing about how the bot answered.
_NOT_AN_ANSWER = frozenset({"action_listen", "action_session_start"})
# Below this a progress bar is more noise than help.
_PROGRESS_FROM = 20

Bound = Union[date, datetime, float, None]


def pseudonym(sender_id: str) -> str:
    """A stable conversation name that does not reveal the sender (often a phone number)."""
    return "c-" + hashlib.sha256(sender_id.encode("utf-8")).hexdigest()[:12]


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date, read as a day in Asia/Shanghai."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-12-01") from None


def _timestamp(bound: Bound) -> Optional[float]:
    if bound is None or isinstance(bound, (int, float)):
        return bound
    if isinstance(bound, datetime):
        return (bound if bound.tzinfo else bound.replace(tzinfo=SHANGHAI)).timestamp()
    return datetime.combine(bound, time(), tzinfo=SHANGHAI).timestamp()


def records_from_events(sender_id: str, events: Iterable[Any], start: Bound = None,
                        end: Bound = None) -> list[dict]:
    """One record per user message of one conversation whose time is in [start, end).

    Turns are counted over the whole conversation, so a message keeps its turn number
    whatever range is exported; `escalated` also looks at the whole conversation."""
    from rasa.shared.core.events import ActionExecuted, UserUttered

    low, high = _timestamp(start), _timestamp(end)
    conversation = pseudonym(sender_id)
    records: list[dict] = []
    current: Optional[dict] = None
    escalated = False
    for event in events:
        if isinstance(event, UserUttered):
            current = _record(conversation, len(records), event)
            records.append(current)
        elif isinstance(event, ActionExecuted) and event.action_name:
            if event.action_name == ESCALATE:
                escalated = True
            if current is None or event.action_name in _NOT_AN_ANSWER:
                continue
            if current["next_action"] is None:
                current["next_action"] = event.action_name
            if event.action_name == ESCALATE:
                current["escalated_next"] = True
    for record in records:
        record["escalated"] = escalated
    return [r for r in records
            if (low is None or r["timestamp"] >= low) and (high is None or r["timestamp"] < high)]


def _record(conversation: str, turn: int, event: Any) -> dict:
    text = event.text or ""
    # parse_data is what the NLU pipeline returned; `intent` is only a copy when the
    # event was built with one.
    intent = (event.parse_data or {}).get("intent") or event.intent or {}
    confidence = intent.get("confidence")
    record = {
        "conversation": conversation,
        "turn": turn,
        "timestamp": float(event.timestamp),
        "time": datetime.fromtimestamp(event.timestamp, SHANGHAI).isoformat(),
        "channel": event.input_channel or None,
        "text": mask(text),
        "intent": intent.get("name") or None,
        "confidence": float(confidence) if confidence is not None else None,
        "next_action": None,
        "escalated": False,
        "escalated_next": False,
    }
    if text.startswith("/"):
        # A button payload (/inform{...}): kept, but a trainer should not mine it as wording.
        record["payload"] = True
    return record


def _innermost(store: Any) -> Any:
    # Rasa wraps synchronous custom stores; the key prefix lives on the wrapped one.
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    return store


async def conversation_ids(store: Any) -> list[str]:
    """The sender ids the store holds. RedisTrackerStore.keys() in Rasa 3.6 returns its
    own Redis keys, prefix included, which retrieve() would not find: strip it."""
    prefix = getattr(_innermost(store), "key_prefix", "") or ""
    ids = []
    for key in await store.keys():
        key = key.decode("utf-8") if isinstance(key, bytes) else key
        ids.append(key[len(prefix):] if prefix and key.startswith(prefix) else key)
    return sorted(set(ids))


async def export_records(store: Any, domain: Any = None, start: Bound = None, end: Bound = None,
                         *, progress: bool = False) -> list[dict]:
    """Every user message in the store within [start, end), masked: conversations ordered
    by their first exported message, messages in conversation order.

    `start`/`end` are dates (a day in Asia/Shanghai), datetimes (naive ones read as
    Shanghai time) or Unix timestamps; either may be None for an open end."""
    if domain is not None:
        # Trackers are rebuilt against the domain's slots; an empty one loses them.
        store.domain = domain
    ids = await conversation_ids(store)
    conversations = []
    for sender_id in _progress(ids, enabled=progress):
        tracker = await store.retrieve_full_tracker(sender_id)
        if tracker is None:
            continue
        records = records_from_events(sender_id, tracker.events, start, end)
        if records:
            conversations.append(records)
    conversations.sort(key=lambda records: (records[0]["timestamp"], records[0]["conversation"]))
    return [record for records in conversations for record in records]


def _progress(ids: list[str], enabled: bool) -> Iterable[str]:
    if not enabled or len(ids) < _PROGRESS_FROM:
        return ids
    from tqdm import tqdm

    return tqdm(ids, file=sys.stderr, unit="conversation", disable=not sys.stderr.isatty())


def write_jsonl(records: Iterable[dict], path: Union[str, Path]) -> int:
    """Write the records as JSON lines (UTF-8, Chinese kept readable); how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


class ExportError(Exception):
    """A configuration problem the person running the export must fix."""


def open_store(endpoints: Union[str, Path], domain: Any) -> Any:
    """The tracker store `endpoints` configures, as Rasa itself would create it."""
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    path = Path(endpoints)
    if not path.is_file():
        raise ExportError(f"endpoints file {path} not found: pass the one the Rasa server "
                          "runs with (--endpoints endpoints.yml)")
    config = read_endpoint_config(str(path), "tracker_store")
    if config is None or config.type is None:
        raise ExportError(f"{path} configures no tracker_store: conversations were kept in "
                          "memory only and cannot be exported")
    dialect = str(config.kwargs.get("dialect", "sqlite")).lower()
    if config.type.lower() == "sql" and dialect == "sqlite" and not config.url:
        # SQLTrackerStore would quietly create an empty database and export nothing.
        db = Path(str(config.kwargs.get("db", "rasa.db")))
        if not db.is_file():
            raise ExportError(f"tracker database {db} (from {path}) does not exist; run from "
                              "the directory the Rasa server runs in")
    return TrackerStore.create(config, domain=domain)


def _parser() -> argparse.ArgumentParser:
    def day(text: str) -> date:
        try:
            return parse_day(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parser = argparse.ArgumentParser(
        prog="python -m bot.trainer export",
        description="Export shopper messages from the configured tracker store as masked JSON "
                    "lines, one per message. Dates are days in Asia/Shanghai; --to is exclusive.")
    parser.add_argument("--endpoints", default="endpoints.yml",
                        help="endpoints file whose tracker_store to read (default: %(default)s)")
    parser.add_argument("--domain", default="domain.yml", help="domain file (default: %(default)s)")
    parser.add_argument("--from", dest="start", type=day, metavar="YYYY-MM-DD",
                        help="first day to include")
    parser.add_argument("--to", dest="end", type=day, metavar="YYYY-MM-DD",
                        help="first day no longer included")
    parser.add_argument("--out", default="var/trainer/export.jsonl",
                        help="JSONL file to write (default: %(default)s)")
    return parser


def cli(argv: list[str]) -> int:
    """`python -m bot.trainer export …`; 0 on success, 2 for a usage or configuration
    error, 1 when the store cannot be read."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return int(stop.code or 0)
    if args.start and args.end and args.start >= args.end:
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: --from {args.start} must be before --to {args.end}",
              file=sys.stderr)
        return 2
    if not Path(args.domain).is_file():
        print(f"{parser.prog}: error: domain file {args.domain} not found (--domain)",
              file=sys.stderr)
        return 2
    try:
        # Rasa's and SQLAlchemy's deprecation notices are for Rasa's maintainers; they would
        # bury the one line this command prints. Recorded, not filtered: the libraries add
        # filters of their own while they are imported.
        with warnings.catch_warnings(record=True):
            from rasa.shared.core.domain import Domain

            store = open_store(args.endpoints, Domain.load(args.domain))
            records = asyncio.run(export_records(store, None, args.start, args.end, progress=True))
    except ExportError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - a connection failure of any store type
        # The type and message name the store; no message text is ever in them.
        print(f"{parser.prog}: error: cannot read the tracker store: "
              f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    count = write_jsonl(records, args.out)
    conversations = len({record["conversation"] for record in records})
    print(f"exported {count} messages from {conversations} conversations to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
