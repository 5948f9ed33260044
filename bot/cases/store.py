"""The case store: open, find and update cases (工单) in one SQL database.

SQLite file by default, PostgreSQL by URL; both behave the same. Every method runs in
its own short transaction and returns frozen snapshots (`CaseRecord`, `CaseEvent`), so
nothing outside this module holds a live ORM object or a session.
"""
from __future__ import annotations

import copy
import json
import os
import random
import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence,
                    Tuple, TypeVar, Union)
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from bot.cases.models import Base, CaseEventRow, CaseRequestRow, CaseRow
from bot.cases.status import STATUSES, UNFINISHED_STATUSES, status_label, status_next_step
from bot.categories import CATEGORIES
from bot.intake import NO_PREFERENCE
from bot.intake import REMEDIES as WANTED_REMEDIES

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "var" / "cases.db"

# What the shopper wants (诉求), or that they leave it to the shop.
REMEDIES = (*WANTED_REMEDIES, NO_PREFERENCE)
SEVERITIES = (1, 2, 3)
EVENT_KINDS = (
    "opened", "repeated_complaint", "photo_added", "marked_for_human", "status_changed", "note",
)
MAX_DESCRIPTION_CHARS = 5000
TRUNCATION_MARKER = "……【内容过长已截断，原文共 {length} 字】"

_EVENT_KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# Concurrent writers can pick the same next number; the loser retries with a fresh one.
_MAX_OPEN_ATTEMPTS = 30
_MAX_WRITE_ATTEMPTS = 20
_WAL_ATTEMPTS = 100
_RETRYABLE = ("locked", "deadlock", "could not serialize")
T = TypeVar("T")
# Namespace of PostgreSQL advisory locks taken by this module (an arbitrary constant).
_PG_LOCK_NAMESPACE = 0x5348  # "SH"


class CaseStoreError(RuntimeError):
    """The store could not complete an operation (not the caller's fault)."""


class CaseNotFound(LookupError):
    def __init__(self, case_id: str):
        super().__init__(f"工单 {case_id} 不存在")
        self.case_id = case_id


# --------------------------------------------------------------------------- snapshots


def locked_row(session: Session, model: Any, key: Any, missing: Exception) -> Any:
    """The row of `model` with primary key `key`, locked for this transaction, or raise
    `missing`."""
    row = session.get(model, key, with_for_update=True)
    if row is None:
        raise missing
    return row


def _iso(value: Optional[datetime]) -> Optional[str]:
    return value.astimezone(SHANGHAI).isoformat() if value is not None else None


@dataclass(frozen=True)
class CaseEvent:
    at: datetime
    kind: str
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        return {"at": _iso(self.at), "kind": self.kind, "actor": self.actor,
                "data": copy.deepcopy(dict(self.data))}


@dataclass(frozen=True)
class CaseRecord:
    """A case as it was when read. Datetimes are aware, in Asia/Shanghai."""

    id: str
    shopper_id: str
    channel: str
    order_id: Optional[str]
    category: str
    secondary_category: Optional[str]
    severity: int
    status: str
    needs_human: bool
    needs_human_reason: Optional[str]
    photos: Tuple[Mapping[str, Any], ...]
    photo_missing_reason: Optional[str]
    description: str
    remedy: Optional[str]
    first_response_due: Optional[datetime]
    solution_due: Optional[datetime]
    created_at: datetime
    updated_at: datetime
    events: Tuple[CaseEvent, ...] = ()

    @property
    def is_finished(self) -> bool:
        return self.status not in UNFINISHED_STATUSES

    @property
    def status_label(self) -> str:
        return status_label(self.status)

    @property
    def next_step(self) -> str:
        return status_next_step(self.status)

    def to_json(self) -> Dict[str, Any]:
        """The public case API: JSON-safe, times in ISO 8601 with the +08:00 offset."""
        return {
            "id": self.id,
            "shopper_id": self.shopper_id,
            "channel": self.channel,
            "order_id": self.order_id,
            "category": self.category,
            "secondary_category": self.secondary_category,
            "severity": self.severity,
            "status": self.status,
            "needs_human": self.needs_human,
            "needs_human_reason": self.needs_human_reason,
            "photos": [copy.deepcopy(dict(p)) for p in self.photos],
            "photo_missing_reason": self.photo_missing_reason,
            "description": self.description,
            "remedy": self.remedy,
            "due_at": {"first_response": _iso(self.first_response_due),
                       "solution": _iso(self.solution_due)},
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "compensation": self.compensation(),
            "events": [e.to_json() for e in self.events],
        }

    def compensation(self) -> Dict[str, Any]:
        """Offers made, declined and accepted, with their amounts, from the history."""
        offers = [dict(e.data) for e in self.events if e.kind == "offer_made"]
        declined = [e.data.get("code") for e in self.events if e.kind == "offer_declined"]
        accepted = next((dict(e.data) for e in reversed(self.events)
                         if e.kind == "offer_accepted"), None)
        return {"offers": offers, "declined": declined, "accepted": accepted}


def _local(value: Optional[datetime]) -> Optional[datetime]:
    return value.astimezone(SHANGHAI) if value is not None else None


def _snapshot(row: CaseRow) -> CaseRecord:
    return CaseRecord(
        id=row.id,
        shopper_id=row.shopper_id,
        channel=row.channel,
        order_id=row.order_id,
        category=row.category,
        secondary_category=row.secondary_category,
        severity=row.severity,
        status=row.status,
        needs_human=bool(row.needs_human),
        needs_human_reason=row.needs_human_reason,
        photos=tuple(copy.deepcopy(p) for p in (row.photos or [])),
        photo_missing_reason=row.photo_missing_reason,
        description=row.description,
        remedy=row.remedy,
        first_response_due=_local(row.first_response_due),
        solution_due=_local(row.solution_due),
        created_at=_local(row.created_at),
        updated_at=_local(row.updated_at),
        events=tuple(
            CaseEvent(_local(e.at), e.kind, e.actor, copy.deepcopy(e.data or {}))
            for e in row.events
        ),
    )


# --------------------------------------------------------------------------- validation


def _aware(value: Optional[datetime], name: str) -> Optional[datetime]:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}={value!r} is naive: pass an aware datetime, e.g. with tzinfo=ZoneInfo('Asia/Shanghai')")
    return value.astimezone(timezone.utc)


def _now(now: Optional[datetime]) -> datetime:
    return _aware(now, "now") if now is not None else datetime.now(timezone.utc)


def _required_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty text, got {value!r}")
    return value.strip()


def _optional_text(value: object, name: str) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a text or None, got {value!r}")
    return value.strip() or None


def _category(value: object, name: str, optional: bool = False) -> Optional[str]:
    if value is None and optional:
        return None
    if value not in CATEGORIES:
        raise ValueError(f"unknown {name} {value!r}, expected one of {CATEGORIES}")
    return value  # type: ignore[return-value]


def _status(value: object) -> str:
    if value not in STATUSES:
        raise ValueError(f"unknown case status {value!r}, expected one of {STATUSES}")
    return value  # type: ignore[return-value]


def _json_data(data: Optional[Mapping[str, Any]], name: str = "data") -> Dict[str, Any]:
    data = dict(data or {})
    try:
        # A value json cannot encode would otherwise fail at commit with a driver error.
        return json.loads(json.dumps(data, ensure_ascii=False))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be JSON-serialisable (use ISO strings for times): {error}") from error


def _photos(photos: Iterable[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    result = []
    for photo in photos:
        if not isinstance(photo, Mapping) or not isinstance(photo.get("sha256"), str):
            raise ValueError(f"a photo must be a dict with at least 'sha256', got {photo!r}")
        result.append(_json_data(photo, "photo"))
    return result


def _merge_photos(existing: Sequence[Mapping[str, Any]], new: Sequence[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Existing + new photos without duplicates (by sha256); also returns what was added."""
    seen = {p.get("sha256") for p in existing}
    added = []
    for photo in new:
        if photo["sha256"] not in seen:
            seen.add(photo["sha256"])
            added.append(photo)
    return [copy.deepcopy(dict(p)) for p in existing] + added, added


def clip_description(text: str) -> Tuple[str, bool]:
    """Keep the shopper's words verbatim up to MAX_DESCRIPTION_CHARS; longer text is cut
    and ends with a marker that says so and how long the original was."""
    if len(text) <= MAX_DESCRIPTION_CHARS:
        return text, False
    marker = TRUNCATION_MARKER.format(length=len(text))
    return text[: MAX_DESCRIPTION_CHARS - len(marker)] + marker, True


# --------------------------------------------------------------------------- the store


def default_database_url(environ: Mapping[str, str] = os.environ) -> str:
    """`DATABASE_URL` if set, else the SQLite file var/cases.db in the project."""
    url = (environ.get("DATABASE_URL") or "").strip()
    return url or f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _normalise_url(url: Union[str, URL]) -> URL:
    if isinstance(url, str) and url.startswith("postgres://"):
        # Hosting platforms hand out postgres://, which SQLAlchemy 1.4 no longer accepts.
        url = "postgresql://" + url[len("postgres://"):]
    return make_url(url)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    in_memory = database in ("", ":memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        future=True,
        # The pool hands a connection to one thread at a time; the driver's own
        # same-thread check would reject that hand-over.
        connect_args={"check_same_thread": False, "timeout": 30},
        # One shared connection, or every thread would see its own empty memory database.
        **({"poolclass": StaticPool} if in_memory else {}),
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control from pysqlite so that "begin" below is the only BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            # Readers (the console) then never wait for the bot's writes. Switching a
            # fresh file to WAL needs it alone, and SQLite answers "locked" at once
            # (no busy wait) when several processes open it together: try again.
            for attempt in range(_WAL_ATTEMPTS):
                try:
                    cursor.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error).lower() or attempt == _WAL_ATTEMPTS - 1:
                        raise
                    time.sleep(random.uniform(0.01, 0.1))
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # IMMEDIATE takes the write lock up front: a transaction that reads the day's
        # last number and then inserts cannot interleave with another writer, and
        # waiting for the lock honours the busy timeout instead of failing at once.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class CaseStore:
    """Cases in one SQL database. Thread-safe; several processes may share the database."""

    def __init__(self, url: Union[str, URL, None] = None):
        self.url: URL = _normalise_url(url if url is not None else default_database_url())
        if self.url.get_backend_name() == "sqlite":
            self.engine = _sqlite_engine(self.url)
        else:
            self.engine = create_engine(self.url, future=True, pool_pre_ping=True)
        self._is_postgres = self.engine.dialect.name == "postgresql"
        self._sessions = sessionmaker(self.engine, future=True, expire_on_commit=False)
        self.create_schema()

    # -- lifecycle

    def create_schema(self) -> None:
        """Create missing tables. Safe when several processes start at once."""
        with self.engine.begin() as connection:
            if self._is_postgres:
                # Two concurrent CREATE TABLEs of the same name fail in PostgreSQL.
                connection.execute(text("SELECT pg_advisory_xact_lock(:ns, 0)"),
                                   {"ns": _PG_LOCK_NAMESPACE})
            Base.metadata.create_all(connection)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "CaseStore":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"CaseStore({self.url.render_as_string(hide_password=True)!r})"

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def transact(self, work: Callable[[Session], T], what: str = "the case store") -> T:
        """`work` in one transaction; retried when another writer got in the way (a
        concurrent insert of the same key, SQLite busy, a PostgreSQL deadlock). For the
        stores that share this database (follow-ups, the handoff queue)."""
        for attempt in range(_MAX_WRITE_ATTEMPTS):
            try:
                with self._transaction() as session:
                    return work(session)
            except IntegrityError:
                pass
            except OperationalError as error:
                if not any(word in str(error).lower() for word in _RETRYABLE):
                    raise
            time.sleep(random.uniform(0.005, 0.05) * min(attempt + 1, 5))
        raise CaseStoreError(f"{what} could not finish after {_MAX_WRITE_ATTEMPTS} attempts")

    @staticmethod
    def record_event(session: Session, case_id: str, kind: str, actor: str,
                     data: Mapping[str, Any], now: datetime) -> None:
        """What `add_event` does, inside the caller's transaction: a change and its record
        in the case history commit together or not at all."""
        if not _EVENT_KIND.match(kind):
            raise ValueError(f"event kind must be snake_case like {EVENT_KINDS}, got {kind!r}")
        session.add(CaseEventRow(case_id=case_id, at=now, kind=kind, actor=actor,
                                 data=_json_data(data)))
        session.execute(update(CaseRow).where(CaseRow.id == case_id).values(updated_at=now)
                        .execution_options(synchronize_session=False))

    def _case(self, session: Session, case_id: str) -> CaseRow:
        row = session.get(CaseRow, case_id)
        if row is None:
            raise CaseNotFound(case_id)
        return row

    # -- reading

    def get(self, case_id: str) -> Optional[CaseRecord]:
        with self._transaction() as session:
            row = session.get(CaseRow, case_id)
            return _snapshot(row) if row is not None else None

    def cases_of(self, shopper_id: str) -> List[CaseRecord]:
        """The shopper's cases, newest first."""
        with self._transaction() as session:
            rows = session.execute(
                select(CaseRow).where(CaseRow.shopper_id == shopper_id)
                .order_by(CaseRow.created_at.desc(), CaseRow.day.desc(), CaseRow.seq.desc())
            ).scalars().all()
            return [_snapshot(row) for row in rows]

    # -- opening

    def needing_attention(self, now: Optional[datetime] = None, limit: int = 100) -> List[CaseRecord]:
        """What a supervisor (主管) watches: reopened cases, and unfinished cases past a
        deadline (a person's first response, or the solution). Oldest deadline first."""
        now = _now(now)
        with self._transaction() as session:
            late = (CaseRow.status.in_(UNFINISHED_STATUSES)) & (
                (CaseRow.solution_due < now)
                | (CaseRow.needs_human & (CaseRow.first_response_due < now)))
            rows = session.execute(
                select(CaseRow).where((CaseRow.status == "reopened") | late)
                .order_by(CaseRow.solution_due.asc(), CaseRow.id).limit(limit)).scalars()
            return [_snapshot(row) for row in rows]

    def open_case(
        self,
        *,
        request_key: str,
        shopper_id: str,
        channel: str,
        category: str,
        severity: int,
        description: str,
        order_id: Optional[str] = None,
        secondary_category: Optional[str] = None,
        photos: Iterable[Mapping[str, Any]] = (),
        photo_missing_reason: Optional[str] = None,
        remedy: Optional[str] = None,
        first_response_due: Optional[datetime] = None,
        solution_due: Optional[datetime] = None,
        needs_human: bool = False,
        needs_human_reason: Optional[str] = None,
        now: Optional[datetime] = None,
    ) -> Tuple[CaseRecord, bool]:
        """Open a case, or return the one this complaint belongs to.

        Returns `(case, created)`: `created` says whether this request opened the case,
        also when it is a retry. A retry with the same `request_key` returns the same
        case and changes nothing. A complaint about the same order and category as one of
        the shopper's unfinished cases joins that case (a `repeated_complaint` event, its
        photos merged) instead of opening a new one.
        """
        request_key = _required_text(request_key, "request_key")
        shopper_id = _required_text(shopper_id, "shopper_id")
        channel = _required_text(channel, "channel")
        category = _category(category, "category")
        secondary_category = _category(secondary_category, "secondary_category", optional=True)
        if secondary_category == category:
            secondary_category = None
        if isinstance(severity, bool) or severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
        if not isinstance(description, str):
            raise ValueError(f"description must be a text, got {description!r}")
        original_length = len(description)
        description, truncated = clip_description(description)
        order_id = _optional_text(order_id, "order_id")
        if remedy is not None and remedy not in REMEDIES:
            raise ValueError(f"unknown remedy {remedy!r}, expected one of {REMEDIES} or None")
        photo_list = _photos(photos)
        photo_missing_reason = _optional_text(photo_missing_reason, "photo_missing_reason")
        needs_human_reason = _optional_text(needs_human_reason, "needs_human_reason")
        first_response_due = _aware(first_response_due, "first_response_due")
        solution_due = _aware(solution_due, "solution_due")
        now = _now(now)
        day = now.astimezone(SHANGHAI).strftime("%Y%m%d")

        for attempt in range(_MAX_OPEN_ATTEMPTS):
            try:
                with self._transaction() as session:
                    if self._is_postgres:
                        # Serialise one shopper's complaints so two messages sent at once
                        # about the same order cannot both open a case.
                        session.execute(
                            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:shopper))"),
                            {"ns": _PG_LOCK_NAMESPACE, "shopper": shopper_id})

                    seen = session.get(CaseRequestRow, request_key)
                    if seen is not None:
                        # A retry answers as the first attempt did: "opened" if this
                        # request made the case, "joined" if it joined one.
                        opener = session.execute(
                            select(CaseRequestRow.request_key)
                            .where(CaseRequestRow.case_id == seen.case_id)
                            .order_by(CaseRequestRow.at, CaseRequestRow.request_key).limit(1)
                        ).scalar()
                        return _snapshot(self._case(session, seen.case_id)), opener == request_key

                    if order_id is not None:
                        current = session.execute(
                            select(CaseRow).where(
                                CaseRow.shopper_id == shopper_id,
                                CaseRow.order_id == order_id,
                                CaseRow.category == category,
                                CaseRow.status.in_(UNFINISHED_STATUSES),
                            ).order_by(CaseRow.created_at.desc()).limit(1)
                        ).scalars().first()
                        if current is not None:
                            merged, added = _merge_photos(current.photos or [], photo_list)
                            current.photos = merged
                            if photo_missing_reason and not current.photo_missing_reason:
                                current.photo_missing_reason = photo_missing_reason
                            current.updated_at = now
                            current.events.append(CaseEventRow(
                                at=now, kind="repeated_complaint", actor="shopper",
                                data={"description": description,
                                      "description_length": original_length,
                                      "channel": channel, "severity": severity,
                                      "remedy": remedy,
                                      "photos_added": [p["sha256"] for p in added]}))
                            session.add(CaseRequestRow(request_key=request_key,
                                                       case_id=current.id, at=now))
                            session.flush()
                            return _snapshot(current), False

                    last = session.execute(
                        select(func.max(CaseRow.seq)).where(CaseRow.day == day)).scalar()
                    seq = (last or 0) + 1
                    row = CaseRow(
                        id=f"SH{day}-{seq:04d}", day=day, seq=seq,
                        shopper_id=shopper_id, channel=channel, order_id=order_id,
                        category=category, secondary_category=secondary_category,
                        severity=severity, status="open",
                        needs_human=bool(needs_human), needs_human_reason=needs_human_reason,
                        photos=photo_list, photo_missing_reason=photo_missing_reason,
                        description=description, remedy=remedy,
                        first_response_due=first_response_due, solution_due=solution_due,
                        created_at=now, updated_at=now,
                    )
                    row.events.append(CaseEventRow(
                        at=now, kind="opened", actor="shopper",
                        data={"channel": channel, "request_key": request_key,
                              "description_length": original_length,
                              "description_truncated": truncated}))
                    if needs_human:
                        row.events.append(CaseEventRow(
                            at=now, kind="marked_for_human", actor="bot",
                            data={"reason": needs_human_reason}))
                    session.add(row)
                    # The case first: the request row refers to it.
                    session.flush()
                    session.add(CaseRequestRow(request_key=request_key, case_id=row.id, at=now))
                    session.flush()
                    return _snapshot(row), True
            except IntegrityError:
                # Another writer took this number or this request key first. The next
                # round sees its commit: the request is found, or the next number is free.
                pass
            except OperationalError as error:
                # SQLite past its busy timeout under heavy contention: worth another try.
                if "locked" not in str(error).lower():
                    raise
            time.sleep(random.uniform(0.005, 0.05) * min(attempt + 1, 5))
        raise CaseStoreError(
            f"could not open a case for request {request_key!r} after {_MAX_OPEN_ATTEMPTS} attempts")

    # -- updating

    def add_event(self, case_id: str, kind: str, actor: str,
                  data: Optional[Mapping[str, Any]] = None, *,
                  now: Optional[datetime] = None) -> CaseRecord:
        if not isinstance(kind, str) or not _EVENT_KIND.match(kind):
            raise ValueError(f"event kind must be snake_case like {EVENT_KINDS}, got {kind!r}")
        actor = _required_text(actor, "actor")
        payload = _json_data(data)
        now = _now(now)
        with self._transaction() as session:
            row = self._case(session, case_id)
            row.events.append(CaseEventRow(at=now, kind=kind, actor=actor, data=payload))
            row.updated_at = now
            session.flush()
            return _snapshot(row)

    def set_status(self, case_id: str, status: str, actor: str,
                   note: Optional[str] = None, *, now: Optional[datetime] = None) -> CaseRecord:
        """Move the case to `status` with a `status_changed` event (from/to, note).
        Setting the status it already has changes nothing."""
        status = _status(status)
        actor = _required_text(actor, "actor")
        note = _optional_text(note, "note")
        now = _now(now)
        with self._transaction() as session:
            row = self._case(session, case_id)
            if row.status != status:
                row.events.append(CaseEventRow(
                    at=now, kind="status_changed", actor=actor,
                    data={"from": row.status, "to": status, "note": note}))
                row.status = status
                row.updated_at = now
                session.flush()
            return _snapshot(row)

    def mark_for_human(self, case_id: str, reason: str, actor: str = "bot", *,
                       now: Optional[datetime] = None) -> CaseRecord:
        """Flag the case for a human agent. The status stays as it is: escalation is a
        separate step."""
        reason = _required_text(reason, "reason")
        actor = _required_text(actor, "actor")
        now = _now(now)
        with self._transaction() as session:
            row = self._case(session, case_id)
            row.needs_human = True
            row.needs_human_reason = reason
            row.events.append(CaseEventRow(at=now, kind="marked_for_human", actor=actor,
                                           data={"reason": reason}))
            row.updated_at = now
            session.flush()
            return _snapshot(row)

    def add_photos(self, case_id: str, photos: Iterable[Mapping[str, Any]],
                   actor: str = "shopper", *, now: Optional[datetime] = None) -> CaseRecord:
        """Attach photos; one already on the case (same sha256) is not added twice."""
        photo_list = _photos(photos)
        actor = _required_text(actor, "actor")
        now = _now(now)
        with self._transaction() as session:
            row = self._case(session, case_id)
            merged, added = _merge_photos(row.photos or [], photo_list)
            if added:
                row.photos = merged
                row.events.append(CaseEventRow(
                    at=now, kind="photo_added", actor=actor,
                    data={"sha256": [p["sha256"] for p in added], "count": len(merged)}))
                row.updated_at = now
                session.flush()
            return _snapshot(row)

    def resolve_with(self, case_id: str, remedy: str, offer: Mapping[str, Any],
                     actor: str = "shopper", *, now: Optional[datetime] = None) -> CaseRecord:
        """The shopper accepted `offer`: record it with its amounts, set the remedy and
        resolve the case, in one transaction so a crash never leaves half of it."""
        if remedy not in REMEDIES:
            raise ValueError(f"unknown remedy {remedy!r}, expected one of {REMEDIES}")
        actor = _required_text(actor, "actor")
        data = _json_data(offer, "offer")
        now = _now(now)
        with self._transaction() as session:
            row = self._case(session, case_id)
            row.events.append(CaseEventRow(at=now, kind="offer_accepted", actor=actor, data=data))
            row.remedy = remedy
            if row.status != "resolved":
                row.events.append(CaseEventRow(
                    at=now, kind="status_changed", actor=actor,
                    data={"from": row.status, "to": "resolved", "note": data.get("code")}))
                row.status = "resolved"
            row.updated_at = now
            session.flush()
            return _snapshot(row)

    def add_details(self, case_id: str, *, order_id: Optional[str] = None,
                    remedy: Optional[str] = None, actor: str = "shopper",
                    now: Optional[datetime] = None) -> CaseRecord:
        """Fill in the order or the wanted remedy on a case opened before the shopper gave
        them (a safety case goes to a person at once). What is already there stays."""
        order_id = _optional_text(order_id, "order_id")
        if remedy is not None and remedy not in REMEDIES:
            raise ValueError(f"unknown remedy {remedy!r}, expected one of {REMEDIES} or None")
        actor = _required_text(actor, "actor")
        now = _now(now)
        with self._transaction() as session:
            row = self._case(session, case_id)
            added: Dict[str, Any] = {}
            if order_id and not row.order_id:
                row.order_id = added["order_id"] = order_id
            if remedy and not row.remedy:
                row.remedy = added["remedy"] = remedy
            if added:
                row.events.append(CaseEventRow(at=now, kind="details_added", actor=actor, data=added))
                row.updated_at = now
                session.flush()
            return _snapshot(row)
