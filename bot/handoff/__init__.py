"""Handing a conversation to a person (转人工): the triggers, the agent queue and its
priorities, and what the shopper is told while they wait."""
from bot.handoff.queue import Handoff, HandoffConflict, HandoffNotFound, HandoffQueue
from bot.handoff.rules import HandoffRules, handoff_rules

__all__ = ["Handoff", "HandoffConflict", "HandoffNotFound", "HandoffQueue", "HandoffRules",
           "handoff_rules"]
