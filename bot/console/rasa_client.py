"""The console's calls to the Rasa server's HTTP API (enabled only with a token): read a
conversation's events, put an agent's message into it — delivered through the channel
the shopper is using — and resume the bot."""
from __future__ import annotations

import time
from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from bot.console.transcript import AGENT_KEY


class RasaUnavailable(RuntimeError):
    """The Rasa server did not answer or refused."""


class RasaClient:
    def __init__(self, base_url: str, token: str, timeout: float = 15.0) -> None:
        if not token:
            raise ValueError("the Rasa HTTP API is only used with a token (RASA_AUTH_TOKEN)")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: Optional[aiohttp.ClientSession] = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _url(self, sender_id: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(sender_id, safe='')}/{tail}"

    async def events(self, sender_id: str) -> List[Dict[str, Any]]:
        """Every event of the conversation (all sessions)."""
        try:
            async with self._http().get(self._url(sender_id, "tracker"),
                                        params={"token": self.token, "include_events": "ALL"}) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered {response.status} for the tracker")
                return (await response.json()).get("events") or []
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RasaUnavailable(f"Rasa is not reachable: {error}") from error

    async def append(self, sender_id: str, events: List[Dict[str, Any]]) -> None:
        """Append events; bot messages among them go out through the shopper's latest
        channel (the app chat pushes them at once)."""
        params = {"token": self.token, "output_channel": "latest", "execute_side_effects": "true"}
        try:
            async with self._http().post(self._url(sender_id, "tracker/events"), params=params,
                                         json=events) as response:
                if response.status != 200:
                    raise RasaUnavailable(f"Rasa answered {response.status}: {(await response.text())[:200]}")
        except (aiohttp.ClientError, TimeoutError) as error:
            raise RasaUnavailable(f"Rasa is not reachable: {error}") from error


def agent_message(text: str, agent: str, display: str) -> Dict[str, Any]:
    """A bot event that is an agent's words, marked so the transcript tells them apart;
    the shopper sees who is writing."""
    return {"event": "bot", "text": f"【人工客服·{display}】{text}", "timestamp": time.time(),
            "metadata": {AGENT_KEY: agent, "agent_display": display}}


def resume_events() -> List[Dict[str, Any]]:
    """Resume the bot, listening: without the `action_listen` the shopper's next message
    would follow the last bot action directly, and the dialogue policy would misread it
    (in Rasa 3.6 it loops on its fallback reply)."""
    now = time.time()
    return [{"event": "resume", "timestamp": now},
            {"event": "action", "name": "action_listen", "timestamp": now}]
