"""Satisfaction follow-ups (回访): a resolved case's shopper is asked, in the same
conversation, to rate the outcome 1–5 — by default 24 hours after resolution
(PRODUCT.md, "Response commitments").

The schedule lives in the cases database (table `followups`, one row per case), so it
survives a restart of every service. A follow-up goes through these states:

    scheduled ──claim──▶ claimed ──mark_fired──▶ sent ──record_rating──▶ rated
        ▲                   │
        └──── release ──────┘  (failed: retried after a backoff; after `max_attempts`
                                tries it is given up and the case says so)

`claim` is an atomic compare-and-set, so of several runners polling the same database
exactly one fires a due follow-up. A runner that dies between `claim` and `mark_fired`
holds the claim for `lease_seconds`; after that another runner may try again.

Every method runs in one short transaction of the case store's own session factory (no
second engine) and returns a frozen `Followup` snapshot with aware datetimes in
Asia/Shanghai. The case history gets `followup_scheduled`, `followup_sent`, `rated` and
`followup_failed` events, written in the same transaction as the change they record.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, List, Mapping, Optional, TypeVar

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from bot.cases.models import CaseRow, FollowupRow
from bot.cases.sla import FOLLOWUP, ServiceLevels, followup_due, service_levels
from bot.cases.store import (
    SHANGHAI,
    CaseNotFound,
    CaseStore,
    _aware,
    _iso,
    _local,
    _now,
    _required_text,
    locked_row,
)

__all__ = [
    "DELAY_ENV", "FOLLOWUP_EVENT_KINDS", "RATINGS", "Followup", "FollowupNotFound",
    "FollowupStore", "followup_delay", "followup_due_at",
]

# Overrides the YAML window (tests and demos shorten the 24 hours to seconds).
DELAY_ENV = "FOLLOWUP_DELAY_SECONDS"
RATINGS = (1, 2, 3, 4, 5)
FOLLOWUP_EVENT_KINDS = ("followup_scheduled", "followup_sent", "followup_failed", "rated")

DEFAULT_LEASE_SECONDS = 120.0
DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_RETRY_SECONDS = 60.0
# The backoff doubles after every failure, up to this.
MAX_RETRY_SECONDS = 3600.0
MAX_ERROR_CHARS = 500


T = TypeVar("T")


class FollowupNotFound(LookupError):
    def __init__(self, case_id: str):
        super().__init__(f"工单 {case_id} 没有安排回访")
        self.case_id = case_id


# --------------------------------------------------------------------------- delay


def followup_delay(environ: Optional[Mapping[str, str]] = None,
                   levels: Optional[ServiceLevels] = None) -> timedelta:
    """How long after resolution the follow-up is due: `FOLLOWUP_DELAY_SECONDS` when set
    (seconds, may be fractional), else the `followup_after_resolution` window of
    service_levels.yml (24 hours by default).

    A window in working days is not a fixed delay (it depends on the day of
    resolution): then this raises ValueError; `followup_due_at` handles every unit.
    """
    override = _delay_override(os.environ if environ is None else environ)
    if override is not None:
        return override
    window = (levels or service_levels()).window(FOLLOWUP)
    if window.unit == "hours":
        return timedelta(hours=window.amount)
    if window.unit == "days":
        return timedelta(days=window.amount)
    raise ValueError(f"{FOLLOWUP} is {window.label}, which is not a fixed delay: "
                     "use followup_due_at(resolved_at)")


def followup_due_at(resolved_at: datetime, environ: Optional[Mapping[str, str]] = None,
                    levels: Optional[ServiceLevels] = None) -> datetime:
    """When the follow-up of a case resolved at `resolved_at` is due (Asia/Shanghai)."""
    start = _aware(resolved_at, "resolved_at")
    assert start is not None
    override = _delay_override(os.environ if environ is None else environ)
    if override is not None:
        return (start + override).astimezone(SHANGHAI)
    return followup_due(resolved_at, levels).astimezone(SHANGHAI)


def _delay_override(environ: Mapping[str, str]) -> Optional[timedelta]:
    raw = (environ.get(DELAY_ENV) or "").strip()
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{DELAY_ENV}={raw!r} is not a number of seconds (e.g. 86400 for 24 h)") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{DELAY_ENV}={raw!r} must be a number of seconds >= 0")
    return timedelta(seconds=seconds)


# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True)
class Followup:
    """A follow-up as it was when read. Datetimes are aware, in Asia/Shanghai."""

    case_id: str
    sender_id: str
    channel: str
    due_at: datetime
    claimed_at: Optional[datetime]
    fired_at: Optional[datetime]
    attempts: int
    last_error: Optional[str]
    retry_at: Optional[datetime]
    gave_up_at: Optional[datetime]
    rating: Optional[int]
    rated_at: Optional[datetime]
    scheduled_at: datetime
    updated_at: datetime

    @property
    def is_fired(self) -> bool:
        return self.fired_at is not None

    @property
    def state(self) -> str:
        """`scheduled`, `sent`, `rated` or `given_up`."""
        if self.rating is not None:
            return "rated"
        if self.fired_at is not None:
            return "sent"
        if self.gave_up_at is not None:
            return "given_up"
        return "scheduled"

    def to_json(self) -> Dict[str, Any]:
        return {
            "case_id": self.case_id, "sender_id": self.sender_id, "channel": self.channel,
            "state": self.state, "due_at": _iso(self.due_at), "claimed_at": _iso(self.claimed_at),
            "fired_at": _iso(self.fired_at), "attempts": self.attempts,
            "last_error": self.last_error, "retry_at": _iso(self.retry_at),
            "gave_up_at": _iso(self.gave_up_at), "rating": self.rating,
            "rated_at": _iso(self.rated_at), "scheduled_at": _iso(self.scheduled_at),
            "updated_at": _iso(self.updated_at),
        }


def _snapshot(row: FollowupRow) -> Followup:
    return Followup(
        case_id=row.case_id, sender_id=row.sender_id, channel=row.channel,
        due_at=_local(row.due_at), claimed_at=_local(row.claimed_at),
        fired_at=_local(row.fired_at), attempts=row.attempts or 0, last_error=row.last_error,
        retry_at=_local(row.retry_at), gave_up_at=_local(row.gave_up_at), rating=row.rating,
        rated_at=_local(row.rated_at), scheduled_at=_local(row.scheduled_at),
        updated_at=_local(row.updated_at),
    )


# --------------------------------------------------------------------------- the store


def _positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


class FollowupStore:
    """Follow-ups in the case store's database; shares its engine and sessions.

    lease_seconds: how long a claim keeps other runners away (longer than one trigger
        call can take: a runner that dies mid-call is retried after it).
    max_attempts: trigger attempts before the follow-up is given up.
    retry_seconds: wait after the first failure; doubles after each further one.
    """

    def __init__(self, case_store: CaseStore, *, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 retry_seconds: float = DEFAULT_RETRY_SECONDS):
        if not isinstance(case_store, CaseStore):
            raise TypeError(f"FollowupStore needs a CaseStore, got {type(case_store).__name__}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be a whole number >= 1, got {max_attempts!r}")
        self.case_store = case_store
        self.lease = timedelta(seconds=_positive(lease_seconds, "lease_seconds"))
        self.max_attempts = max_attempts
        self.retry = timedelta(seconds=_positive(retry_seconds, "retry_seconds"))

    def __repr__(self) -> str:
        return f"FollowupStore({self.case_store!r})"

    # -- plumbing

    def _run(self, work: Callable[[Session], T]) -> T:
        return self.case_store.transact(work, "the follow-up store")

    _event = staticmethod(CaseStore.record_event)

    @staticmethod
    def _locked_row(session: Session, case_id: str) -> FollowupRow:
        return locked_row(session, FollowupRow, case_id, FollowupNotFound(case_id))

    def _claimable(self, now: datetime):
        """The conditions under which a follow-up may be fired at `now`."""
        return and_(
            FollowupRow.fired_at.is_(None),
            FollowupRow.gave_up_at.is_(None),
            FollowupRow.rating.is_(None),
            FollowupRow.due_at <= now,
            or_(FollowupRow.claimed_at.is_(None), FollowupRow.claimed_at < now - self.lease),
            or_(FollowupRow.retry_at.is_(None), FollowupRow.retry_at <= now),
        )

    # -- scheduling

    def schedule(self, case_id: str, sender_id: str, channel: str, due_at: datetime, *,
                 now: Optional[datetime] = None) -> Followup:
        """Schedule the case's follow-up for `due_at` in conversation `sender_id`.

        Idempotent: one follow-up per case. Scheduling again replaces a schedule that has
        not fired (also one that was given up: it gets fresh attempts) with a
        `followup_scheduled` event; the same schedule again changes nothing. A follow-up
        already sent or rated is left as it is and returned.
        """
        case_id = _required_text(case_id, "case_id")
        sender_id = _required_text(sender_id, "sender_id")
        channel = _required_text(channel, "channel")
        due = _aware(due_at, "due_at")
        if due is None:
            raise ValueError("due_at is required")
        now = _now(now)

        def work(session: Session) -> Followup:
            if session.execute(select(CaseRow.id).where(CaseRow.id == case_id)).scalar() is None:
                raise CaseNotFound(case_id)
            row = session.get(FollowupRow, case_id, with_for_update=True)
            if row is None:
                row = FollowupRow(case_id=case_id, sender_id=sender_id, channel=channel,
                                  due_at=due, attempts=0, scheduled_at=now, updated_at=now)
                session.add(row)
                # The insert first, so a concurrent first schedule fails here and retries.
                session.flush()
                replaced = False
            elif row.fired_at is not None or row.rating is not None:
                return _snapshot(row)
            elif (row.sender_id, row.channel, row.due_at, row.gave_up_at) == (sender_id, channel, due, None):
                return _snapshot(row)
            else:
                # A runner that has claimed it keeps its claim: clearing it would let a
                # second runner fire while the first one's call is still under way.
                row.sender_id, row.channel, row.due_at = sender_id, channel, due
                row.attempts, row.last_error, row.retry_at, row.gave_up_at = 0, None, None, None
                row.scheduled_at = row.updated_at = now
                replaced = True
            self._event(session, case_id, "followup_scheduled", "bot",
                        {"due_at": _iso(due), "channel": channel, "replaced": replaced}, now)
            session.flush()
            return _snapshot(row)

        return self._run(work)

    # -- reading

    def get(self, case_id: str) -> Optional[Followup]:
        with self.case_store._transaction() as session:
            row = session.get(FollowupRow, case_id)
            return _snapshot(row) if row is not None else None

    def due(self, now: Optional[datetime] = None, limit: Optional[int] = None) -> List[Followup]:
        """Follow-ups to fire at `now`, earliest first: not sent, rated or given up, due,
        not claimed within the lease, and past the backoff of their last failure."""
        now = _now(now)
        query = (select(FollowupRow).where(self._claimable(now))
                 .order_by(FollowupRow.due_at, FollowupRow.case_id))
        if limit is not None:
            query = query.limit(limit)
        with self.case_store._transaction() as session:
            return [_snapshot(row) for row in session.execute(query).scalars().all()]

    # -- firing

    def claim(self, case_id: str, now: Optional[datetime] = None) -> bool:
        """Take the follow-up for firing; True for exactly one of several concurrent
        callers, and only while it is due (see `due`). Counts an attempt."""
        now = _now(now)

        def work(session: Session) -> bool:
            result = session.execute(
                update(FollowupRow)
                .where(FollowupRow.case_id == case_id, self._claimable(now))
                .values(claimed_at=now, attempts=FollowupRow.attempts + 1, updated_at=now)
                .execution_options(synchronize_session=False))
            return result.rowcount == 1

        return self._run(work)

    def mark_fired(self, case_id: str, now: Optional[datetime] = None) -> Followup:
        """Record that the shopper was asked. Only the first call counts."""
        now = _now(now)

        def work(session: Session) -> Followup:
            row = self._locked_row(session, case_id)
            if row.fired_at is None:
                row.fired_at = row.updated_at = now
                row.retry_at = None
                self._event(session, case_id, "followup_sent", "bot",
                            {"attempts": row.attempts, "channel": row.channel}, now)
                session.flush()
            return _snapshot(row)

        return self._run(work)

    def release(self, case_id: str, error: str, now: Optional[datetime] = None, *,
                give_up: bool = False) -> Followup:
        """Give back a claim after a failed trigger: the follow-up is tried again after
        the backoff, or, once `max_attempts` attempts have failed (or at once with
        `give_up`, for a failure no retry can fix), given up with a `followup_failed`
        event. `error` must not carry personal data or secrets."""
        error = (str(error).strip() or "unknown error")[:MAX_ERROR_CHARS]
        now = _now(now)

        def work(session: Session) -> Followup:
            row = self._locked_row(session, case_id)
            if row.fired_at is not None or row.gave_up_at is not None:
                return _snapshot(row)
            row.claimed_at = None
            row.last_error = error
            row.updated_at = now
            if give_up or row.attempts >= self.max_attempts:
                row.gave_up_at = now
                row.retry_at = None
                self._event(session, case_id, "followup_failed", "bot",
                            {"attempts": row.attempts, "error": error}, now)
            else:
                wait = min(self.retry.total_seconds() * 2 ** max(row.attempts - 1, 0),
                           MAX_RETRY_SECONDS)
                row.retry_at = now + timedelta(seconds=wait)
            session.flush()
            return _snapshot(row)

        return self._run(work)

    # -- the answer

    def record_rating(self, case_id: str, rating: int, now: Optional[datetime] = None, *,
                      actor: str = "shopper") -> Followup:
        """The shopper's satisfaction (CSAT) 1–5 with a `rated` event. A changed rating
        replaces the earlier one (the event keeps both); the same rating again changes
        nothing. A follow-up that is rated is never fired afterwards."""
        if isinstance(rating, bool) or not isinstance(rating, int) or rating not in RATINGS:
            raise ValueError(f"rating must be a whole number 1–5, got {rating!r}")
        actor = _required_text(actor, "actor")
        now = _now(now)

        def work(session: Session) -> Followup:
            row = self._locked_row(session, case_id)
            if row.rating == rating:
                return _snapshot(row)
            previous = row.rating
            row.rating, row.rated_at, row.updated_at = rating, now, now
            self._event(session, case_id, "rated", actor,
                        {"rating": rating, "previous": previous}, now)
            session.flush()
            return _snapshot(row)

        return self._run(work)
