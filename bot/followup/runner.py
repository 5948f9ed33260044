"""The follow-up runner: fires due satisfaction follow-ups (回访) through Rasa's HTTP API.

Every `poll_seconds` it reads the due follow-ups from the database, claims each one (so
of several runners only one fires it), asks Rasa to run `action_start_followup` in the
shopper's conversation (after setting `rating_case_id`), and records the result: sent, or failed and to be
retried later (given up after the configured number of attempts).

Nothing here is kept in memory between polls: a restarted runner picks up where the last
one stopped, and a follow-up recorded as sent is never sent again.

Logs carry case ids and error kinds, never the shopper's conversation id, a message text
or the Rasa token.
"""
from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import Any, Mapping, Optional, Protocol
from urllib.parse import quote

import requests
from sqlalchemy.exc import OperationalError

from bot.cases.followups import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_RETRY_SECONDS,
    FollowupStore,
)
from bot.cases.store import CaseStore, _now, default_database_url

logger = logging.getLogger("bot.followup")

# Run through `/execute` rather than an EXTERNAL_ intent: an intent with no NLU examples
# would fail `rasa data validate --fail-on-warnings`.
FOLLOWUP_ACTION = "action_start_followup"
CASE_SLOT = "rating_case_id"
DEFAULT_RASA_URL = "http://localhost:5005"
DEFAULT_POLL_SECONDS = 5.0
DEFAULT_TIMEOUT_SECONDS = 10.0
# Follow-ups fired per poll at most; the rest wait for the next poll.
BATCH_SIZE = 100
MARK_FIRED_RETRY_WAITS = (0.5, 1.0, 2.0, 4.0)


# Characters a URL path segment may carry as they are (RFC 3986 pchar), plus "/": Rasa's
# route takes the conversation id as a `path` parameter.
_PATH_SAFE = "!$&'()*+,;=:@/"


class TriggerFailed(RuntimeError):
    """Rasa did not take the trigger. The message is safe to log and store: it never
    contains the token or the conversation id. `permanent`: trying again cannot help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def conversation_path(sender_id: str) -> str:
    """The conversation id as it goes into the URL path.

    Rasa 3.6's Sanic does not percent-decode path parameters: an id sent as
    `user%2042` is taken literally and would start a new conversation. So an id with a
    character that needs escaping (a space, %, ?, #, non-ASCII text) cannot be addressed
    through the HTTP API at all; that is a permanent TriggerFailed.
    """
    path = quote(sender_id, safe=_PATH_SAFE)
    if path != sender_id or not sender_id:
        raise TriggerFailed("the conversation id contains characters that Rasa's HTTP API "
                            "cannot address (space, %, ?, #, non-ASCII)", permanent=True)
    return path


class TriggerClient(Protocol):
    def start_followup(self, sender_id: str, case_id: str) -> None: ...


class RasaClient:
    """Starts the follow-up in a conversation through the HTTP API of a Rasa server
    started with `--enable-api` (and `--auth-token`, passed here as `token`): it sets
    the case slot (`POST …/tracker/events`), then runs the follow-up action
    (`POST …/execute`), whose question goes out through the latest output channel."""

    def __init__(self, base_url: str = DEFAULT_RASA_URL, token: Optional[str] = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS, output_channel: str = "latest"):
        self.base_url = base_url.rstrip("/")
        self._token = token or None
        self.timeout = timeout
        self.output_channel = output_channel
        self._session = requests.Session()

    def __repr__(self) -> str:
        # The token stays out of every repr and log line.
        return f"RasaClient({self.base_url!r}, token={'set' if self._token else 'none'})"

    def close(self) -> None:
        self._session.close()

    def start_followup(self, sender_id: str, case_id: str) -> None:
        self._post(sender_id, "tracker/events",
                   [{"event": "slot", "name": CASE_SLOT, "value": case_id}])
        self._post(sender_id, "execute", {"name": FOLLOWUP_ACTION},
                   {"output_channel": self.output_channel})

    def _post(self, sender_id: str, endpoint: str, body: Any,
              params: Optional[Mapping[str, str]] = None) -> None:
        url = f"{self.base_url}/conversations/{conversation_path(sender_id)}/{endpoint}"
        params = dict(params or {})
        if self._token:
            params["token"] = self._token
        try:
            response = self._session.post(url, params=params, timeout=self.timeout, json=body)
        except requests.Timeout:
            raise TriggerFailed(f"Rasa did not answer within {self.timeout:g}s") from None
        except requests.ConnectionError:
            # The exception's text holds the full URL, token included: not repeated here.
            raise TriggerFailed(f"cannot connect to Rasa at {self.base_url}") from None
        except requests.RequestException as error:
            raise TriggerFailed(f"request to Rasa failed ({type(error).__name__})") from None
        if not 200 <= response.status_code < 300:
            raise TriggerFailed(f"Rasa answered HTTP {response.status_code}"
                                f"{self._reason(response, sender_id)}")

    def _reason(self, response: requests.Response, sender_id: str) -> str:
        # Rasa's error body: {"status": "failure", "reason": "NotFound", "message": ...}.
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        parts = [str(body[key]) for key in ("reason", "message") if body.get(key)]
        text = ": ".join(parts)[:300]
        for secret in (self._token, sender_id):
            if secret:
                text = text.replace(secret, "***")
        return f" ({text})" if text else ""


def run_once(store: FollowupStore, client: TriggerClient, now: Optional[datetime] = None,
             stop: Optional[threading.Event] = None) -> int:
    """Fire the follow-ups due at `now` (default: the current time); returns how many were
    sent. A follow-up another runner claimed first is skipped; a failed trigger is
    released for a later retry. `stop`, when set, ends the batch early.

    Without `now`, every claim and record takes the time it happens: a long batch (Rasa
    slow to answer) must not claim with a stale time, which would shorten the lease."""
    fired = 0
    for followup in store.due(_now(now), limit=BATCH_SIZE):
        if stop is not None and stop.is_set():
            break
        at = _now(now)
        if not store.claim(followup.case_id, at):
            continue
        try:
            client.start_followup(followup.sender_id, followup.case_id)
        except Exception as error:  # any failure of the call: retried later
            reason = str(error) if isinstance(error, TriggerFailed) else type(error).__name__
            permanent = isinstance(error, TriggerFailed) and error.permanent
            released = store.release(followup.case_id, reason, _now(now), give_up=permanent)
            if released.gave_up_at is not None:
                logger.error("follow-up of case %s given up after %d attempts: %s",
                             followup.case_id, released.attempts, reason)
            else:
                logger.warning("follow-up of case %s failed (attempt %d), retry at %s: %s",
                               followup.case_id, released.attempts,
                               released.retry_at.isoformat() if released.retry_at else "-", reason)
            continue
        _mark_fired(store, followup.case_id, _now(now))
        fired += 1
        logger.info("follow-up of case %s sent", followup.case_id)
    return fired


def _mark_fired(store: FollowupStore, case_id: str, now: datetime) -> None:
    # The shopper has been asked: losing this write would ask them again once the claim
    # runs out, so a database hiccup gets a few more tries.
    for wait in MARK_FIRED_RETRY_WAITS:
        try:
            store.mark_fired(case_id, now)
            return
        except Exception as error:
            logger.warning("recording the follow-up of case %s as sent failed, trying again in %gs: %s",
                           case_id, wait, _describe(error))
            time.sleep(wait)
    store.mark_fired(case_id, now)


def _describe(error: BaseException) -> str:
    # SQLAlchemy puts the statement and its parameters (conversation ids) after the
    # first line: keep only that.
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200] if lines else ''}"


def run(store: FollowupStore, client: TriggerClient, poll_seconds: float,
        stop: threading.Event) -> None:
    """Poll until `stop` is set. A failing poll (database down) is logged and retried."""
    while not stop.is_set():
        try:
            run_once(store, client, stop=stop)
        except Exception as error:
            logger.error("follow-up poll failed, trying again in %gs: %s", poll_seconds, _describe(error))
        stop.wait(poll_seconds)


# --------------------------------------------------------------------------- settings


def _number(environ: Mapping[str, str], name: str, default: float, *, whole: bool = False) -> float:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise ValueError(f"{name}={raw!r} is not {kind}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}={raw!r} must be greater than 0")
    return value


@dataclass(frozen=True)
class RunnerSettings:
    """The runner's settings, read once from the environment (see bot/followup/__init__)."""

    rasa_url: str
    rasa_token: Optional[str]
    database_url: str
    poll_seconds: float
    timeout_seconds: float
    lease_seconds: float
    retry_seconds: float
    max_attempts: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "RunnerSettings":
        rasa_url = (environ.get("RASA_URL") or "").strip() or DEFAULT_RASA_URL
        if not rasa_url.startswith(("http://", "https://")):
            raise ValueError(f"RASA_URL={rasa_url!r} must start with http:// or https://")
        settings = cls(
            rasa_url=rasa_url.rstrip("/"),
            rasa_token=(environ.get("RASA_AUTH_TOKEN") or "").strip() or None,
            database_url=default_database_url(environ),
            poll_seconds=_number(environ, "FOLLOWUP_POLL_SECONDS", DEFAULT_POLL_SECONDS),
            timeout_seconds=_number(environ, "FOLLOWUP_HTTP_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS),
            lease_seconds=_number(environ, "FOLLOWUP_LEASE_SECONDS", DEFAULT_LEASE_SECONDS),
            retry_seconds=_number(environ, "FOLLOWUP_RETRY_SECONDS", DEFAULT_RETRY_SECONDS),
            max_attempts=int(_number(environ, "FOLLOWUP_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, whole=True)),
        )
        if settings.lease_seconds <= settings.timeout_seconds:
            # Otherwise a second runner could fire while the first one's call is running.
            raise ValueError(f"FOLLOWUP_LEASE_SECONDS ({settings.lease_seconds:g}) must be longer than "
                             f"FOLLOWUP_HTTP_TIMEOUT_SECONDS ({settings.timeout_seconds:g})")
        return settings


def _open_store(settings: RunnerSettings, stop: threading.Event) -> Optional[CaseStore]:
    """The case store; waits for a database that is not up yet (None if stopped first)."""
    while not stop.is_set():
        try:
            return CaseStore(settings.database_url)
        except OperationalError as error:
            logger.warning("case database not reachable, trying again in %gs: %s",
                           settings.poll_seconds, _describe(error))
            stop.wait(settings.poll_seconds)
    return None


def main(environ: Optional[Mapping[str, str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # urllib3 logs request URLs (conversation id, token) at debug level.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    try:
        settings = RunnerSettings.from_env(os.environ if environ is None else environ)
    except ValueError as error:
        logger.error("%s", error)
        return 2

    stop = threading.Event()

    def _stop(signum: int, _frame: Optional[FrameType]) -> None:
        logger.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    if not settings.rasa_token:
        logger.warning("RASA_AUTH_TOKEN is not set: calling Rasa without a token")
    case_store = _open_store(settings, stop)
    if case_store is None:
        logger.info("follow-up runner stopped")
        return 0
    store = FollowupStore(case_store, lease_seconds=settings.lease_seconds,
                          max_attempts=settings.max_attempts, retry_seconds=settings.retry_seconds)
    client = RasaClient(settings.rasa_url, settings.rasa_token, timeout=settings.timeout_seconds)
    logger.info("follow-up runner started: %r, %r, polling every %gs",
                client, case_store, settings.poll_seconds)
    started = time.monotonic()
    try:
        run(store, client, settings.poll_seconds, stop)
    finally:
        client.close()
        case_store.close()
    logger.info("follow-up runner stopped after %.0fs", time.monotonic() - started)
    return 0
