"""`python -m bot.followup` as a real process against a real HTTP server that plays Rasa's
`POST /conversations/{id}/tracker/events` + `…/execute`, with the schedule in a SQLite file."""
from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.cases import CaseStore
from bot.cases.followups import FollowupStore

ROOT = Path(__file__).resolve().parents[2]
POLL = 0.2
# A conversation id with the punctuation that may stand in a URL path as it is.
SENDER = "app:user/42@shop-7"
PATH = re.compile(r"^/conversations/(.+)/(tracker/events|execute)$")


class FakeRasa:
    """Rasa's tracker-events and execute endpoints: checks the token, remembers the case
    slot set on each conversation, records every action run (with that slot), and can be
    told to answer the next calls with HTTP 500."""

    def __init__(self, token: str):
        self.token = token
        self.calls: List[Dict] = []
        self.rejected: List[Dict] = []
        self.fail_next = 0
        self.slots: Dict[str, str] = {}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                match = PATH.match(parts.path)
                if match is None:
                    return self._answer(404, {"status": "failure", "reason": "NotFound"})
                # Like Rasa's Sanic: the path parameter is taken as sent, not decoded.
                call = {"sender": match.group(1), "query": query, "body": body,
                        "endpoint": match.group(2)}
                with fake._lock:
                    if query.get("token") != [fake.token]:
                        fake.rejected.append(call)
                        return self._answer(401, {"status": "failure", "reason": "NotAuthenticated",
                                                  "message": "User is not authenticated."})
                    if fake.fail_next > 0:
                        fake.fail_next -= 1
                        fake.rejected.append(call)
                        return self._answer(500, {"status": "failure", "reason": "ConversationError",
                                                  "message": f"An unexpected error occurred for {call['sender']}."})
                    if call["endpoint"] == "tracker/events":
                        fake.slots[call["sender"]] = body[0]["value"]
                        return self._answer(200, {"sender_id": call["sender"]})
                    call["case_id"] = fake.slots.get(call["sender"])
                    fake.calls.append(call)
                self._answer(200, {"tracker": {"sender_id": call["sender"]},
                                   "messages": [{"recipient_id": call["sender"], "text": "请为本次服务打分（1–5）"}]})

            def _answer(self, status: int, payload: Dict) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "FakeRasa":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def case_ids(self) -> List[str]:
        with self._lock:
            return [call["case_id"] for call in self.calls]


class Runner:
    """One `python -m bot.followup` process; its output goes to a log file."""

    def __init__(self, env: Dict[str, str], log: Path):
        self.log = log
        self._out = open(log, "ab")
        self.process = subprocess.Popen([sys.executable, "-m", "bot.followup"], cwd=ROOT, env=env,
                                        stdout=self._out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_started(self) -> None:
        wait_until(lambda: "follow-up runner started" in self.output(), what="the runner to start",
                   process=self.process, log=self)

    def terminate(self, sig: int = signal.SIGTERM, seconds: float = 10) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=seconds)
        finally:
            self._out.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        self._out.close()


def wait_until(predicate: Callable[[], bool], what: str, seconds: float = 20,
               process: Optional[subprocess.Popen] = None, log: Optional[Runner] = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.05)
    details = f"\n--- runner log ---\n{log.output()}" if log is not None else ""
    pytest.fail(f"timed out waiting for {what}{details}")


@pytest.fixture
def token():
    return secrets.token_hex(16)


@pytest.fixture
def rasa(token):
    fake = FakeRasa(token).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def database(tmp_path):
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    with CaseStore(url) as cases:
        yield url, cases, FollowupStore(cases)


@pytest.fixture
def start_runner(tmp_path, rasa, token, database):
    runners: List[Runner] = []

    def start(**overrides: str) -> Runner:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("FOLLOWUP_", "RASA_", "DATABASE_URL"))}
        env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": database[0], "RASA_URL": rasa.url,
                    "RASA_AUTH_TOKEN": token, "FOLLOWUP_POLL_SECONDS": str(POLL),
                    "FOLLOWUP_RETRY_SECONDS": "0.3", "FOLLOWUP_HTTP_TIMEOUT_SECONDS": "5",
                    "FOLLOWUP_LEASE_SECONDS": "30"})
        env.update(overrides)
        runner = Runner(env, tmp_path / f"runner-{len(runners)}.log")
        runners.append(runner)
        runner.wait_started()
        return runner

    yield start
    for runner in runners:
        if runner.process.poll() is None:
            runner.kill()


def now() -> datetime:
    return datetime.now(timezone.utc)


def resolved_case(cases: CaseStore, shopper: str = "shopper-1") -> str:
    case, _ = cases.open_case(request_key=f"req-{uuid.uuid4().hex}", shopper_id=shopper,
                              channel="rest", category="quality", severity=2,
                              description="连衣裙开线了")
    cases.set_status(case.id, "resolved", "agent-1")
    return case.id


def settle() -> None:
    """Long enough for several polls of the runner."""
    time.sleep(POLL * 8)


def test_a_due_followup_is_triggered_exactly_once_and_a_later_one_waits(database, rasa, token, start_runner):
    _, cases, followups = database
    due_id, later_id = resolved_case(cases, "a"), resolved_case(cases, "b")
    followups.schedule(due_id, SENDER, "rest", now() - timedelta(seconds=1))
    followups.schedule(later_id, "sender-later", "rest", now() + timedelta(hours=1))

    runner = start_runner()
    wait_until(lambda: followups.get(due_id).state == "sent", "the due follow-up to be sent", log=runner)
    settle()

    assert len(rasa.calls) == 1 and rasa.rejected == []
    call = rasa.calls[0]
    assert call["sender"] == SENDER
    assert call["query"] == {"output_channel": ["latest"], "token": [token]}
    assert call["body"] == {"name": "action_start_followup"} and call["case_id"] == due_id
    assert followups.get(later_id).state == "scheduled" and followups.get(later_id).attempts == 0
    assert [e.kind for e in cases.get(due_id).events][-2:] == ["followup_scheduled", "followup_sent"]

    assert runner.terminate() == 0
    output = runner.output()
    assert "follow-up runner stopped" in output
    assert due_id in output
    # No secrets, no conversation ids, no message texts in the log.
    for private in (token, SENDER, "user/42", "sender-later", "打分", "开线"):
        assert private not in output


def test_a_followup_that_becomes_due_while_the_runner_runs_is_sent_then(database, rasa, start_runner):
    _, cases, followups = database
    case_id = resolved_case(cases)
    runner = start_runner()
    followups.schedule(case_id, "sender-1", "rest", now() + timedelta(seconds=1.5))
    time.sleep(0.5)
    assert rasa.calls == []
    wait_until(lambda: followups.get(case_id).state == "sent", "the follow-up to fall due", log=runner)
    settle()
    assert rasa.case_ids() == [case_id]
    assert runner.terminate() == 0


def test_a_failing_first_call_is_retried_and_then_succeeds_once(database, rasa, start_runner):
    _, cases, followups = database
    case_id = resolved_case(cases)
    followups.schedule(case_id, SENDER, "rest", now() - timedelta(seconds=1))
    rasa.fail_next = 1

    runner = start_runner()
    wait_until(lambda: followups.get(case_id).state == "sent", "the retried follow-up", log=runner)
    settle()

    assert len(rasa.rejected) == 1 and rasa.case_ids() == [case_id]
    sent = followups.get(case_id)
    assert sent.attempts == 2
    assert sent.last_error.startswith("Rasa answered HTTP 500")
    # Rasa's error echoed the conversation id: neither the database nor the log keeps it.
    assert SENDER not in sent.last_error and "user/42" not in sent.last_error
    assert runner.terminate() == 0
    output = runner.output()
    assert "HTTP 500" in output and SENDER not in output and "user/42" not in output


def test_a_wrong_token_is_retried_then_given_up_and_never_logged(database, rasa, token, start_runner):
    _, cases, followups = database
    case_id = resolved_case(cases)
    followups.schedule(case_id, "sender-1", "rest", now() - timedelta(seconds=1))
    wrong = "wrong-" + secrets.token_hex(8)

    runner = start_runner(RASA_AUTH_TOKEN=wrong, FOLLOWUP_RETRY_SECONDS="0.1", FOLLOWUP_MAX_ATTEMPTS="3")
    wait_until(lambda: followups.get(case_id).state == "given_up", "the follow-up to be given up", log=runner)
    settle()

    given_up = followups.get(case_id)
    assert given_up.attempts == 3 and "HTTP 401" in given_up.last_error
    assert len(rasa.rejected) == 3 and rasa.calls == []
    assert [e.kind for e in cases.get(case_id).events][-1] == "followup_failed"
    assert runner.terminate() == 0
    assert wrong not in runner.output() and wrong not in given_up.last_error


def test_a_rasa_that_is_down_is_retried_until_it_is_up(database, rasa, token, start_runner, tmp_path):
    _, cases, followups = database
    case_id = resolved_case(cases)
    followups.schedule(case_id, "sender-1", "rest", now() - timedelta(seconds=1))
    down = FakeRasa(token)  # bound, not serving: connections are refused
    down.server.server_close()

    runner = start_runner(RASA_URL=down.url, FOLLOWUP_RETRY_SECONDS="0.1")
    # attempts counts at the claim; the error is recorded when the call has failed.
    wait_until(lambda: followups.get(case_id).last_error is not None, "a failed attempt", log=runner)
    failed = followups.get(case_id)
    assert failed.state == "scheduled" and "cannot connect" in failed.last_error
    assert runner.terminate() == 0
    assert token not in runner.output()

    # Rasa is back (here: at another address) and the runner restarted.
    runner = start_runner()
    wait_until(lambda: followups.get(case_id).state == "sent", "the follow-up after Rasa came up", log=runner)
    assert rasa.case_ids() == [case_id]
    assert runner.terminate() == 0


def test_a_restarted_runner_never_sends_a_sent_followup_again(database, rasa, start_runner):
    _, cases, followups = database
    sent_id, waiting_id = resolved_case(cases, "a"), resolved_case(cases, "b")
    followups.schedule(sent_id, "sender-a", "rest", now() - timedelta(seconds=1))

    first = start_runner()
    wait_until(lambda: followups.get(sent_id).state == "sent", "the first follow-up", log=first)
    first.kill()  # no clean shutdown

    # Scheduled while no runner was running.
    followups.schedule(waiting_id, "sender-b", "rest", now() - timedelta(seconds=1))
    second = start_runner()
    wait_until(lambda: followups.get(waiting_id).state == "sent", "the follow-up scheduled meanwhile", log=second)
    settle()
    assert sorted(rasa.case_ids()) == sorted([sent_id, waiting_id])
    assert second.terminate() == 0


def test_two_runners_on_one_database_send_each_followup_once(database, rasa, start_runner):
    _, cases, followups = database
    case_ids = [resolved_case(cases, f"shopper-{n}") for n in range(15)]
    for case_id in case_ids:
        followups.schedule(case_id, f"sender-{case_id}", "rest", now() - timedelta(seconds=1))

    runners = [start_runner(), start_runner()]
    wait_until(lambda: all(followups.get(c).state == "sent" for c in case_ids), "every follow-up to be sent")
    settle()
    assert sorted(rasa.case_ids()) == sorted(case_ids)
    assert all(followups.get(c).attempts == 1 for c in case_ids)
    for runner in runners:
        assert runner.terminate() == 0


def test_a_conversation_id_rasa_cannot_address_is_given_up_at_once(database, rasa, start_runner):
    # Rasa 3.6 does not decode the path: "张三 1" sent as "%E5…%201" would reach another
    # conversation than the shopper's, so the runner must not send it at all.
    _, cases, followups = database
    bad_id, good_id = resolved_case(cases, "a"), resolved_case(cases, "b")
    followups.schedule(bad_id, "张三 1", "rest", now() - timedelta(seconds=2))
    followups.schedule(good_id, "sender-b", "rest", now() - timedelta(seconds=1))

    runner = start_runner()
    wait_until(lambda: followups.get(good_id).state == "sent", "the good follow-up", log=runner)
    settle()
    bad = followups.get(bad_id)
    assert bad.state == "given_up" and bad.attempts == 1 and "cannot address" in bad.last_error
    assert rasa.case_ids() == [good_id] and rasa.rejected == []
    assert runner.terminate() == 0
    assert "张三" not in runner.output()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_runner_cleanly(start_runner, sig):
    runner = start_runner(FOLLOWUP_POLL_SECONDS="30")  # asleep between polls when signalled
    started = time.monotonic()
    assert runner.terminate(sig, seconds=10) == 0
    assert time.monotonic() - started < 5
    output = runner.output()
    assert f"{signal.Signals(sig).name} received" in output and "follow-up runner stopped" in output
    assert "Traceback" not in output


def test_bad_settings_stop_the_runner_with_a_clear_message(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FOLLOWUP_POLL_SECONDS": "often",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'cases.db'}"}
    result = subprocess.run([sys.executable, "-m", "bot.followup"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "FOLLOWUP_POLL_SECONDS='often' is not a number" in result.stderr
