"""Database tables for cases (工单), their history and the requests that opened them.

Portable between SQLite and PostgreSQL: JSON via `sqlalchemy.JSON`, timestamps through
`UTCDateTime`, which stores UTC and always hands back aware datetimes.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

Base = declarative_base()


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as UTC.

    SQLite has no time zones and returns naive values; PostgreSQL returns them in the
    session's zone. Normalising both ways means callers never see a naive datetime and
    never depend on the server's TimeZone setting.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (with tzinfo)")
        value = value.astimezone(timezone.utc)
        # SQLite would store the offset text inconsistently; UTC without tzinfo is
        # unambiguous because everything in these tables is UTC.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class CaseRow(Base):
    __tablename__ = "cases"

    id = Column(String(32), primary_key=True)
    # The id's parts, so the next number is max(seq) of the day as a number, not a string.
    day = Column(String(8), nullable=False)
    seq = Column(Integer, nullable=False)

    shopper_id = Column(String(200), nullable=False)
    channel = Column(String(50), nullable=False)
    order_id = Column(String(100), nullable=True)
    category = Column(String(20), nullable=False)
    secondary_category = Column(String(20), nullable=True)
    severity = Column(Integer, nullable=False)
    status = Column(String(20), nullable=False)
    needs_human = Column(Boolean, nullable=False, default=False)
    needs_human_reason = Column(Text, nullable=True)
    photos = Column(JSON, nullable=False, default=list)
    photo_missing_reason = Column(Text, nullable=True)
    description = Column(Text, nullable=False)
    remedy = Column(String(20), nullable=True)
    first_response_due = Column(UTCDateTime, nullable=True)
    solution_due = Column(UTCDateTime, nullable=True)
    created_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    events = relationship(
        "CaseEventRow",
        back_populates="case",
        order_by="CaseEventRow.id",
        cascade="all, delete-orphan",
        lazy="selectin",
    )

    __table_args__ = (
        UniqueConstraint("day", "seq", name="uq_cases_day_seq"),
        Index("ix_cases_shopper_status", "shopper_id", "status"),
        Index("ix_cases_order", "order_id"),
    )


class CaseEventRow(Base):
    __tablename__ = "case_events"

    # Insertion order is the history's order: several events can share a timestamp.
    id = Column(Integer, primary_key=True, autoincrement=True)
    case_id = Column(String(32), ForeignKey("cases.id", ondelete="CASCADE"), nullable=False)
    at = Column(UTCDateTime, nullable=False)
    kind = Column(String(40), nullable=False)
    actor = Column(String(200), nullable=False)
    data = Column(JSON, nullable=False, default=dict)

    case = relationship("CaseRow", back_populates="events")

    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)


class CaseRequestRow(Base):
    """One row per request that reached `open_case`: a retry of the same request finds
    its row and gets the same case back, whether that case was opened or joined."""

    __tablename__ = "case_requests"

    request_key = Column(String(255), primary_key=True)
    case_id = Column(String(32), ForeignKey("cases.id", ondelete="CASCADE"), nullable=False)
    at = Column(UTCDateTime, nullable=False)


class FollowupRow(Base):
    """The satisfaction follow-up (回访) of one resolved case: when it is due, whether a
    runner has claimed or fired it, its failed attempts and the shopper's rating.

    One row per case. Managed by `bot.cases.followups.FollowupStore`.
    """

    __tablename__ = "followups"

    case_id = Column(String(32), ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    # The Rasa conversation to ask in, and the channel the case came from.
    sender_id = Column(String(200), nullable=False)
    channel = Column(String(50), nullable=False)
    due_at = Column(UTCDateTime, nullable=False)
    # A runner is triggering it since then; others leave it alone until the lease runs out.
    claimed_at = Column(UTCDateTime, nullable=True)
    fired_at = Column(UTCDateTime, nullable=True)
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(Text, nullable=True)
    # After a failed attempt, the next one waits until then (backoff).
    retry_at = Column(UTCDateTime, nullable=True)
    # Set when the attempts ran out: never tried again unless scheduled anew.
    gave_up_at = Column(UTCDateTime, nullable=True)
    rating = Column(Integer, nullable=True)
    rated_at = Column(UTCDateTime, nullable=True)
    scheduled_at = Column(UTCDateTime, nullable=False)
    updated_at = Column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_followups_due", "due_at"),)


class HandoffRow(Base):
    """One conversation handed to a person (转人工): waiting in the agent queue, taken by
    an agent, then handed back to the bot or closed. Managed by
    `bot.handoff.queue.HandoffQueue`. A conversation has at most one open handoff."""

    __tablename__ = "handoffs"

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(200), nullable=False)
    channel = Column(String(50), nullable=False)
    # The case it is about; None when the shopper asked for a person before complaining.
    case_id = Column(String(32), ForeignKey("cases.id", ondelete="SET NULL"), nullable=True)
    reason = Column(String(40), nullable=False)
    severity = Column(Integer, nullable=False)
    tier = Column(String(20), nullable=True)
    # Smaller goes first (severity * 10 + tier rank); ties by escalated_at.
    priority = Column(Integer, nullable=False)
    state = Column(String(20), nullable=False)  # waiting, taken, returned
    escalated_at = Column(UTCDateTime, nullable=False)
    first_response_due = Column(UTCDateTime, nullable=False)
    taken_by = Column(String(100), nullable=True)
    taken_at = Column(UTCDateTime, nullable=True)
    first_reply_at = Column(UTCDateTime, nullable=True)
    ended_at = Column(UTCDateTime, nullable=True)
    ended_by = Column(String(100), nullable=True)
    # While open, equals sender_id; NULL once ended. A unique index on it keeps one open
    # handoff per conversation even when two escalations race (both databases allow many
    # NULLs in a unique column).
    open_sender = Column(String(200), nullable=True, unique=True)
    # What agents did in this conversation, also when there is no case to record it on:
    # [{"at", "kind", "actor", "data"}].
    history = Column(JSON, nullable=False, default=list)

    __table_args__ = (Index("ix_handoffs_state_priority", "state", "priority", "escalated_at"),
                      Index("ix_handoffs_sender", "sender_id"))
