"""The handoff rules (bot/policy/handoff.yml, or POLICY_DIR): which shoppers and problems go to a person, who goes
first in the agent queue, and how long a shopper is told to wait."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, Mapping, Optional, Tuple, Union

from bot.orders.model import TIERS
from bot.policy.location import policy_file
from bot.policy.policy_yaml import PolicyFile

HANDOFF_FILE = "handoff.yml"
# Reasons the code raises; the file must give each a label and a lead.
REASONS = ("asked_for_person", "severity_1", "public_threat", "not_understood",
           "declined_twice", "no_more_offers", "over_cap", "no_order", "order_id_failed",
           "order_unverified", "reopened_low_rating", "loyal_severity_2")
SEVERITIES = (1, 2, 3)
REPLIES = ("case", "queued", "queued_first", "already_queued", "agent_took", "handed_back")


@dataclass(frozen=True)
class Reason:
    label: str  # what agents read in the queue
    lead: str  # what the shopper hears first


@dataclass(frozen=True)
class HandoffRules:
    tier_order: Tuple[str, ...]
    escalate_at_severity_2: Tuple[str, ...]
    minutes_per_conversation: float
    agents_on_duty: int
    not_understood_in_a_row: int
    reasons: Mapping[str, Reason]
    replies: Mapping[str, str]

    def priority(self, severity: int, tier: Optional[str]) -> int:
        """Smaller goes first: severity, then tier (an unknown tier last). Waiting time
        breaks ties in the queue itself."""
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be 1, 2 or 3, got {severity!r}")
        rank = self.tier_order.index(tier) if tier in self.tier_order else len(self.tier_order)
        return severity * 10 + rank

    def trigger(self, severity: int, tier: Optional[str], public_threat: bool = False) -> Optional[str]:
        """The reason a complaint of `severity` from a shopper of `tier` goes to a person
        at once, or None when the bot may handle it."""
        if public_threat:
            return "public_threat"
        if severity == 1:
            return "severity_1"
        if severity == 2 and tier in self.escalate_at_severity_2:
            return "loyal_severity_2"
        return None

    def expected_wait_minutes(self, ahead: int, first_response_hours: float) -> int:
        """Minutes until an agent picks up a conversation with `ahead` others before it."""
        if ahead < 0:
            raise ValueError(f"ahead must be >= 0, got {ahead}")
        rounds = math.ceil((ahead + 1) / self.agents_on_duty)
        return max(1, min(int(rounds * self.minutes_per_conversation),
                          int(first_response_hours * 60)))

    def say(self, key: str, **values: object) -> str:
        return self.replies[key].format(**values)

    def reason(self, name: Optional[str]) -> Reason:
        return self.reasons.get(name or "", self.reasons["asked_for_person"])


def load_handoff_rules(path: Union[str, "os.PathLike[str]", None] = None) -> HandoffRules:
    source = PolicyFile(path if path is not None else policy_file(HANDOFF_FILE))
    top = source.mapping((), source.data, required=("priority", "wait", "not_understood", "reasons", "replies"))
    priority = source.mapping(("priority",), top["priority"],
                              required=("tier_order",), optional=("escalate_at_severity_2",))
    tier_order = source.choices(("priority", "tier_order"), priority["tier_order"], TIERS)
    if len(set(tier_order)) != len(tier_order):
        raise source.error(("priority", "tier_order"), "lists a tier twice")
    escalate = (source.choices(("priority", "escalate_at_severity_2"),
                               priority["escalate_at_severity_2"], TIERS)
                if priority.get("escalate_at_severity_2") else ())
    wait = source.mapping(("wait",), top["wait"], required=("minutes_per_conversation", "agents_on_duty"))
    minutes = source.number(("wait", "minutes_per_conversation"), wait["minutes_per_conversation"],
                            0, 24 * 60, minimum_inclusive=False)
    agents = source.integer(("wait", "agents_on_duty"), wait["agents_on_duty"], 1, 10_000)
    not_understood = source.mapping(("not_understood",), top["not_understood"], required=("in_a_row",))
    in_a_row = source.integer(("not_understood", "in_a_row"), not_understood["in_a_row"], 1, 10)
    raw_reasons = source.mapping(("reasons",), top["reasons"], required=REASONS)
    reasons: Dict[str, Reason] = {}
    for name in REASONS:
        entry = source.mapping(("reasons", name), raw_reasons[name], required=("label", "lead"))
        label, lead = (source.strings(("reasons", name, key), [entry[key]])[0] for key in ("label", "lead"))
        reasons[name] = Reason(label=label, lead=lead)
    raw_replies = source.mapping(("replies",), top["replies"], required=REPLIES)
    replies = {key: source.strings(("replies", key), [raw_replies[key]])[0] for key in REPLIES}
    return HandoffRules(replies=replies, tier_order=tier_order, escalate_at_severity_2=escalate,
                        minutes_per_conversation=minutes, agents_on_duty=agents,
                        not_understood_in_a_row=in_a_row, reasons=reasons)


@lru_cache(maxsize=1)
def handoff_rules() -> HandoffRules:
    return load_handoff_rules()
