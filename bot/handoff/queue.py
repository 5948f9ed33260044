"""The agent queue (人工队列): conversations handed to a person, in the case database.

A handoff is `waiting` until an agent takes it (`taken`), and ends when the agent hands
the conversation back to the bot (`returned`). Every change is also written to the
case's history, with who and when, in the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from bot.cases.models import CaseEventRow, CaseRow, HandoffRow
from bot.cases.store import CaseNotFound, CaseStore, _iso, _local, _now, _required_text, locked_row
from bot.handoff.rules import HandoffRules, handoff_rules

STATES = ("waiting", "taken", "returned")
OPEN_STATES = ("waiting", "taken")


class HandoffNotFound(LookupError):
    def __init__(self, handoff_id: int):
        super().__init__(f"转人工记录 {handoff_id} 不存在")
        self.handoff_id = handoff_id


class HandoffConflict(RuntimeError):
    """The change does not fit the handoff's state (taken by someone else, already ended)."""


@dataclass(frozen=True)
class Handoff:
    id: int
    sender_id: str
    channel: str
    case_id: Optional[str]
    reason: str
    severity: int
    tier: Optional[str]
    priority: int
    state: str
    escalated_at: datetime
    first_response_due: datetime
    taken_by: Optional[str]
    taken_at: Optional[datetime]
    first_reply_at: Optional[datetime]
    ended_at: Optional[datetime]
    ended_by: Optional[str]
    history: Tuple[Dict[str, Any], ...] = ()

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def waiting_minutes(self, now: Optional[datetime] = None) -> int:
        """How long the shopper has waited for a person's first words."""
        end = self.first_reply_at or self.ended_at or _now(now)
        return max(0, int((end - self.escalated_at).total_seconds() // 60))

    def sla_state(self, now: Optional[datetime] = None, warn_fraction: float = 0.75) -> str:
        """`met` (answered in time), `breached`, `warning` (most of the time used) or `ok`."""
        if self.first_reply_at is not None:
            return "met" if self.first_reply_at <= self.first_response_due else "breached"
        now = _now(now)
        if now > self.first_response_due:
            return "breached"
        allowed = self.first_response_due - self.escalated_at
        return "warning" if now - self.escalated_at >= allowed * warn_fraction else "ok"

    def to_json(self, now: Optional[datetime] = None) -> Dict[str, Any]:
        now = _now(now)
        return {
            "id": self.id, "sender_id": self.sender_id, "channel": self.channel,
            "case_id": self.case_id, "reason": self.reason,
            "reason_label": handoff_rules().reason(self.reason).label,
            "severity": self.severity, "tier": self.tier, "priority": self.priority,
            "state": self.state, "escalated_at": _iso(self.escalated_at),
            "first_response_due": _iso(self.first_response_due),
            "seconds_to_first_response_due": int((self.first_response_due - now).total_seconds()),
            "sla": self.sla_state(now), "waiting_minutes": self.waiting_minutes(now),
            "taken_by": self.taken_by, "taken_at": _iso(self.taken_at),
            "first_reply_at": _iso(self.first_reply_at), "ended_at": _iso(self.ended_at),
            "ended_by": self.ended_by, "history": [dict(h) for h in self.history],
        }


def _snapshot(row: HandoffRow) -> Handoff:
    return Handoff(
        id=row.id, sender_id=row.sender_id, channel=row.channel, case_id=row.case_id,
        reason=row.reason, severity=row.severity, tier=row.tier, priority=row.priority,
        state=row.state, escalated_at=_local(row.escalated_at),
        first_response_due=_local(row.first_response_due), taken_by=row.taken_by,
        taken_at=_local(row.taken_at), first_reply_at=_local(row.first_reply_at),
        ended_at=_local(row.ended_at), ended_by=row.ended_by,
        history=tuple(row.history or ()))


def _queue_order():
    return (HandoffRow.priority, HandoffRow.escalated_at, HandoffRow.id)


class HandoffQueue:
    """The agent queue in the case store's database; shares its engine and sessions."""

    def __init__(self, case_store: CaseStore, rules: Optional[HandoffRules] = None):
        if not isinstance(case_store, CaseStore):
            raise TypeError(f"HandoffQueue needs a CaseStore, got {type(case_store).__name__}")
        self.case_store = case_store
        self.rules = rules or handoff_rules()

    def __repr__(self) -> str:
        return f"HandoffQueue({self.case_store!r})"

    def _run(self, work):
        return self.case_store.transact(work, "the handoff queue")

    @staticmethod
    def _row(session: Session, handoff_id: int) -> HandoffRow:
        return locked_row(session, HandoffRow, handoff_id, HandoffNotFound(handoff_id))

    def _event(self, session: Session, row: HandoffRow, kind: str, actor: str,
               data: Dict[str, Any], now: datetime) -> None:
        row.history = [*(row.history or []), {"at": _iso(now), "kind": kind, "actor": actor,
                                              "data": dict(data)}]
        if row.case_id:
            self.case_store.record_event(session, row.case_id, kind, actor,
                                         {"handoff_id": row.id, **data}, now)

    # -- escalating

    def escalate(self, sender_id: str, channel: str, reason: str, severity: int,
                 tier: Optional[str], first_response_hours: float, case_id: Optional[str] = None,
                 *, now: Optional[datetime] = None) -> Tuple[Handoff, bool]:
        """Put the conversation in the queue; (the handoff, whether it is new).

        A conversation already waiting or with an agent keeps its one handoff: it gains
        the case if it had none, and the more urgent priority of the two. The case is
        marked for a person and set `escalated`, with an `escalated` event.
        """
        sender_id = _required_text(sender_id, "sender_id")
        channel = _required_text(channel, "channel")
        reason = _required_text(reason, "reason")
        priority = self.rules.priority(severity, tier)
        now = _now(now)

        def work(session: Session) -> Tuple[Handoff, bool]:
            if case_id is not None and session.get(CaseRow, case_id) is None:
                raise CaseNotFound(case_id)
            row = session.execute(select(HandoffRow).where(HandoffRow.open_sender == sender_id)
                                  .with_for_update()).scalar_one_or_none()
            created = row is None
            if created:
                row = HandoffRow(
                    sender_id=sender_id, channel=channel, case_id=case_id, reason=reason,
                    severity=severity, tier=tier, priority=priority, state="waiting",
                    escalated_at=now, open_sender=sender_id, history=[],
                    first_response_due=now + timedelta(hours=first_response_hours))
                session.add(row)
                # The insert first: a concurrent escalation of the same conversation
                # fails here on open_sender and retries, finding this row.
                session.flush()
            else:
                if row.case_id is None and case_id is not None:
                    row.case_id = case_id
                if priority < row.priority:
                    row.priority, row.severity, row.tier, row.reason = priority, severity, tier, reason
            if row.case_id is not None:
                self._mark_case(session, row, reason, now)
            return _snapshot(row), created

        return self._run(work)

    def _mark_case(self, session: Session, row: HandoffRow, reason: str, now: datetime) -> None:
        case = session.get(CaseRow, row.case_id, with_for_update=True)
        if case is None:
            return
        if case.status == "escalated" and case.needs_human:
            return
        if not case.needs_human:
            case.needs_human, case.needs_human_reason = True, reason
        previous = case.status
        case.status = "escalated"
        session.add(CaseEventRow(case_id=case.id, at=now, kind="escalated", actor="bot",
                                 data={"handoff_id": row.id, "reason": reason,
                                       "priority": row.priority, "from": previous}))
        case.updated_at = now

    # -- reading

    def get(self, handoff_id: int) -> Handoff:
        return self._run(lambda session: _snapshot(self._row(session, handoff_id)))

    def open_for(self, sender_id: str) -> Optional[Handoff]:
        def work(session: Session) -> Optional[Handoff]:
            row = session.execute(select(HandoffRow).where(HandoffRow.open_sender == sender_id)
                                  ).scalar_one_or_none()
            return _snapshot(row) if row else None
        return self._run(work)

    def latest_for(self, sender_id: str) -> Optional[Handoff]:
        def work(session: Session) -> Optional[Handoff]:
            row = session.execute(select(HandoffRow).where(HandoffRow.sender_id == sender_id)
                                  .order_by(HandoffRow.id.desc()).limit(1)).scalar_one_or_none()
            return _snapshot(row) if row else None
        return self._run(work)

    def open_queue(self) -> List[Handoff]:
        """Waiting and taken conversations, most urgent first."""
        def work(session: Session) -> List[Handoff]:
            rows = session.execute(select(HandoffRow).where(HandoffRow.state.in_(OPEN_STATES))
                                   .order_by(*_queue_order())).scalars()
            return [_snapshot(row) for row in rows]
        return self._run(work)

    def ended(self, limit: int = 50) -> List[Handoff]:
        def work(session: Session) -> List[Handoff]:
            rows = session.execute(select(HandoffRow).where(HandoffRow.state == "returned")
                                   .order_by(HandoffRow.ended_at.desc()).limit(limit)).scalars()
            return [_snapshot(row) for row in rows]
        return self._run(work)

    def ahead_of(self, handoff: Handoff) -> int:
        """Waiting conversations an agent will take before this one."""
        def work(session: Session) -> int:
            before = or_(HandoffRow.priority < handoff.priority,
                         and_(HandoffRow.priority == handoff.priority,
                              or_(HandoffRow.escalated_at < handoff.escalated_at,
                                  and_(HandoffRow.escalated_at == handoff.escalated_at,
                                       HandoffRow.id < handoff.id))))
            return session.execute(select(func.count()).select_from(HandoffRow).where(
                HandoffRow.state == "waiting", HandoffRow.id != handoff.id, before)).scalar_one()
        return self._run(work)

    # -- an agent at work

    def take(self, handoff_id: int, agent: str, *, now: Optional[datetime] = None) -> Handoff:
        """Assign the conversation to `agent`. Taking one's own again changes nothing;
        a conversation another agent has is refused."""
        agent = _required_text(agent, "agent")
        now = _now(now)

        def work(session: Session) -> Handoff:
            row = self._row(session, handoff_id)
            if row.state == "taken" and row.taken_by == agent:
                return _snapshot(row)
            if row.state != "waiting":
                raise HandoffConflict(f"会话已由 {row.taken_by} 接手" if row.state == "taken"
                                      else "会话已交还机器人，无法接手")
            row.state, row.taken_by, row.taken_at = "taken", agent, now
            self._event(session, row, "agent_took", agent, {}, now)
            return _snapshot(row)
        return self._run(work)

    def _own_open_row(self, session: Session, handoff_id: int, agent: str) -> HandoffRow:
        row = self._row(session, handoff_id)
        if row.state != "taken":
            raise HandoffConflict("请先接手该会话" if row.state == "waiting" else "会话已交还机器人")
        if row.taken_by != agent:
            raise HandoffConflict(f"会话由 {row.taken_by} 负责，不能代为操作")
        return row

    def record(self, handoff_id: int, agent: str, kind: str, data: Dict[str, Any], *,
               reply: bool = False, now: Optional[datetime] = None) -> Handoff:
        """Something the agent in charge did (a reply, a note …), in the case history.
        The first reply stops the first-response clock."""
        agent = _required_text(agent, "agent")
        now = _now(now)

        def work(session: Session) -> Handoff:
            row = self._own_open_row(session, handoff_id, agent)
            if reply and row.first_reply_at is None:
                row.first_reply_at = now
            self._event(session, row, kind, agent, data, now)
            return _snapshot(row)
        return self._run(work)

    def hand_back(self, handoff_id: int, agent: str, *, now: Optional[datetime] = None) -> Handoff:
        """The bot answers this conversation again. An escalated case goes back to
        `open`; a case the agent resolved stays resolved."""
        agent = _required_text(agent, "agent")
        now = _now(now)

        def work(session: Session) -> Handoff:
            row = self._own_open_row(session, handoff_id, agent)
            row.state, row.ended_at, row.ended_by, row.open_sender = "returned", now, agent, None
            self._event(session, row, "handed_back", agent, {}, now)
            if row.case_id:
                case = session.get(CaseRow, row.case_id, with_for_update=True)
                if case is not None and case.status == "escalated":
                    case.status = "open"
                    session.add(CaseEventRow(case_id=case.id, at=now, kind="status_changed",
                                             actor=agent, data={"from": "escalated", "to": "open",
                                                                "note": "handed back to the bot"}))
            return _snapshot(row)
        return self._run(work)
