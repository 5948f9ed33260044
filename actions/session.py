"""A new session (after `session_expiration_time` of silence) resets Rasa's tracker,
which also lifts a pause: a shopper who waited an hour for an agent would be answered by
the bot while the agent still has the conversation. The session starts paused again when
the conversation is still in the agent queue."""
from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import handoff_queue


class ActionSessionStart(Action):
    def name(self) -> Text:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[Text, Any]) -> List[EventType]:
        events: List[EventType] = [SessionStarted()]
        if (domain.get("session_config") or {}).get("carry_over_slots_to_new_session", True):
            events += [SlotSet(name, value) for name, value in tracker.slots.items()
                       if value is not None and name != "requested_slot"]
        if await asyncio.to_thread(handoff_queue().open_for, tracker.sender_id):
            events.append(ConversationPaused())
        return events + [ActionExecuted("action_listen")]
