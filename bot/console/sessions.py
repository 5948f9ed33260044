"""Console log-in sessions and the log-in throttle, in the case database so that a
restart logs nobody out and several console processes agree.

A session cookie holds a random token; the database keeps only its sha256. Sessions
end after `lifetime` from log-in, or after `idle` without a request. Each session has
its own CSRF token, which every state-changing request must echo.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import Column, Index, Integer, String, delete, func, select
from sqlalchemy.orm import Session

from bot.cases.models import Base, UTCDateTime
from bot.cases.store import CaseStore, _now


class ConsoleSessionRow(Base):
    __tablename__ = "console_sessions"

    token_hash = Column(String(64), primary_key=True)
    username = Column(String(100), nullable=False)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False)
    last_seen_at = Column(UTCDateTime, nullable=False)
    expires_at = Column(UTCDateTime, nullable=False)


class LoginFailureRow(Base):
    __tablename__ = "console_login_failures"

    id = Column(Integer, primary_key=True, autoincrement=True)
    # "user:<name>" or "ip:<address>": both are limited.
    key = Column(String(200), nullable=False)
    at = Column(UTCDateTime, nullable=False)

    __table_args__ = (Index("ix_login_failures_key_at", "key", "at"),)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ConsoleSession:
    token: str  # only known right after log-in; "" when read back
    username: str
    csrf_token: str
    expires_at: datetime


class SessionStore:
    def __init__(self, case_store: CaseStore, *, lifetime: timedelta = timedelta(hours=8),
                 idle: timedelta = timedelta(hours=1), max_failures: int = 5,
                 max_failures_per_address: int = 20,
                 failure_window: timedelta = timedelta(minutes=15)) -> None:
        self.case_store = case_store
        self.lifetime, self.idle = lifetime, idle
        # One name is guessed at by few tries; an office shares one address, so it gets more.
        self.max_failures, self.max_failures_per_address = max_failures, max_failures_per_address
        self.failure_window = failure_window
        Base.metadata.create_all(case_store.engine,
                                 tables=[ConsoleSessionRow.__table__, LoginFailureRow.__table__])

    def _run(self, work):
        return self.case_store.transact(work, "the console session store")

    # -- sessions

    def start(self, username: str, now: Optional[datetime] = None) -> ConsoleSession:
        now = _now(now)
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        expires = now + self.lifetime

        def work(session: Session) -> ConsoleSession:
            session.execute(delete(ConsoleSessionRow).where(ConsoleSessionRow.expires_at < now))
            session.add(ConsoleSessionRow(token_hash=_digest(token), username=username,
                                          csrf_token=csrf, created_at=now, last_seen_at=now,
                                          expires_at=expires))
            return ConsoleSession(token, username, csrf, expires)
        return self._run(work)

    def get(self, token: Optional[str], now: Optional[datetime] = None) -> Optional[ConsoleSession]:
        """The live session of `token` (and it is touched), or None."""
        if not token:
            return None
        now = _now(now)

        def work(session: Session) -> Optional[ConsoleSession]:
            row = session.get(ConsoleSessionRow, _digest(token))
            if row is None:
                return None
            if now >= row.expires_at or now - row.last_seen_at >= self.idle:
                session.delete(row)
                return None
            row.last_seen_at = now
            return ConsoleSession("", row.username, row.csrf_token, row.expires_at)
        return self._run(work)

    def end(self, token: Optional[str]) -> None:
        if token:
            self._run(lambda session: session.execute(
                delete(ConsoleSessionRow).where(ConsoleSessionRow.token_hash == _digest(token))))

    # -- log-in throttle

    def locked_out(self, username: str, address: str, now: Optional[datetime] = None) -> bool:
        """Too many failed log-ins lately for this name or from this address."""
        since = _now(now) - self.failure_window

        def work(session: Session) -> bool:
            limits = ((f"user:{username[:150]}", self.max_failures),
                      (f"ip:{address[:150]}", self.max_failures_per_address))
            for key, limit in limits:
                count = session.execute(select(func.count()).select_from(LoginFailureRow).where(
                    LoginFailureRow.key == key, LoginFailureRow.at >= since)).scalar_one()
                if count >= limit:
                    return True
            return False
        return self._run(work)

    def record_failure(self, username: str, address: str, now: Optional[datetime] = None) -> None:
        now = _now(now)

        def work(session: Session) -> None:
            session.execute(delete(LoginFailureRow).where(LoginFailureRow.at < now - self.failure_window))
            session.add_all([LoginFailureRow(key=f"user:{username[:150]}", at=now),
                             LoginFailureRow(key=f"ip:{address[:150]}", at=now)])
        self._run(work)

    def clear_failures(self, username: str) -> None:
        self._run(lambda session: session.execute(
            delete(LoginFailureRow).where(LoginFailureRow.key == f"user:{username[:150]}")))
