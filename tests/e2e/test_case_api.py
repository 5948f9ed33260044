"""The agent console's case API, served by `python -m bot.console` as in production."""
import hashlib
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from bot.cases import CaseStore

ROOT = Path(__file__).resolve().parents[2]
TOKEN = secrets.token_hex(16)
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PHOTO_BYTES = b"\xff\xd8\xff\xe0" + b"not really a jpeg, but bytes to serve" + b"\xff\xd9"
PHOTO_SHA = hashlib.sha256(PHOTO_BYTES).hexdigest()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(base, process, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the console exited with {process.returncode} before answering")
        try:
            if requests.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{base}/health did not answer within {seconds}s")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("console")
    database_url = f"sqlite:///{workdir / 'cases.db'}"
    media = workdir / "media"
    (media / PHOTO_SHA[:2]).mkdir(parents=True)
    (media / PHOTO_SHA[:2] / f"{PHOTO_SHA}.jpg").write_bytes(PHOTO_BYTES)
    (workdir / "secret.txt").write_text("not for agents", encoding="utf-8")
    photo = {"sha256": PHOTO_SHA, "filename": f"{PHOTO_SHA}.jpg", "format": "JPEG",
             "width": 1, "height": 1, "size": len(PHOTO_BYTES)}
    with CaseStore(database_url) as store:
        first, _ = store.open_case(
            request_key="s1:m1", shopper_id="shopper-1", channel="rest", category="quality",
            severity=2, description="连衣裙开线了", order_id="1234567890123456789",
            photos=[photo], remedy="exchange", now=NOW,
            first_response_due=NOW + timedelta(hours=2), solution_due=NOW + timedelta(days=3))
        store.mark_for_human(first.id, "顾客要求人工", now=NOW + timedelta(minutes=1))
        second, _ = store.open_case(
            request_key="s1:m2", shopper_id="shopper-1", channel="liveroom",
            category="logistics", severity=3, description="快递三天没动了",
            now=NOW + timedelta(hours=1))
        store.open_case(request_key="s2:m1", shopper_id="shopper-2", channel="rest",
                        category="service", severity=3, description="客服不回复", now=NOW)
    return {"workdir": workdir, "database_url": database_url, "media": media,
            "first": first.id, "second": second.id}


def start_console(seeded, port, token=TOKEN):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CONSOLE_PORT": str(port),
           "CONSOLE_HOST": "127.0.0.1", "DATABASE_URL": seeded["database_url"],
           "MEDIA_DIR": str(seeded["media"]), "AGENT_API_TOKEN": token}
    if token is None:
        del env["AGENT_API_TOKEN"]
    log = open(seeded["workdir"] / f"console-{port}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "bot.console"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    return process, log


@pytest.fixture(scope="module")
def console(seeded):
    port = free_port()
    process, log = start_console(seeded, port)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, process)
        yield base
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def get(base, path, token=TOKEN, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return requests.get(f"{base}{path}", headers=headers, timeout=10, **kwargs)


def test_health_needs_no_token(console):
    response = get(console, "/health", token=None)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.parametrize("path", ["/api/cases?shopper_id=shopper-1", "/api/cases/SH20240301-0001",
                                  f"/media/{PHOTO_SHA}.jpg"])
@pytest.mark.parametrize("token", [None, "wrong-token", ""])
def test_the_api_and_photos_refuse_a_missing_or_wrong_token(console, path, token):
    response = get(console, path, token=token)
    assert response.status_code == 401
    assert "令牌" in response.json()["error"]


def test_a_non_bearer_scheme_is_refused(console):
    response = requests.get(f"{console}/api/cases?shopper_id=shopper-1", timeout=10,
                            headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status_code == 401


def test_listing_needs_a_shopper_id(console):
    response = get(console, "/api/cases")
    assert response.status_code == 400
    assert "shopper_id" in response.json()["error"]


def test_a_shoppers_cases_are_listed_newest_first(console, seeded):
    response = get(console, "/api/cases", params={"shopper_id": "shopper-1"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    cases = response.json()["cases"]
    assert [c["id"] for c in cases] == [seeded["second"], seeded["first"]]
    assert {c["shopper_id"] for c in cases} == {"shopper-1"}
    assert get(console, "/api/cases", params={"shopper_id": "nobody"}).json() == {"cases": []}


def test_a_case_is_returned_with_every_public_field(console, seeded):
    response = get(console, f"/api/cases/{seeded['first']}")
    assert response.status_code == 200
    case = response.json()
    assert set(case) == {
        "id", "shopper_id", "channel", "order_id", "category", "secondary_category", "severity",
        "status", "needs_human", "needs_human_reason", "photos", "photo_missing_reason",
        "description", "remedy", "due_at", "created_at", "updated_at", "events", "compensation",
        "rating", "followup"}
    assert case["id"] == seeded["first"] == "SH20240301-0001"
    assert case["description"] == "连衣裙开线了"
    assert case["order_id"] == "1234567890123456789"
    assert (case["category"], case["severity"], case["status"], case["remedy"]) == \
        ("quality", 2, "open", "exchange")
    assert case["needs_human"] is True and case["needs_human_reason"] == "顾客要求人工"
    assert case["photos"][0]["sha256"] == PHOTO_SHA
    assert case["due_at"] == {"first_response": "2024-03-01T14:00:00+08:00",
                              "solution": "2024-03-04T12:00:00+08:00"}
    assert case["created_at"] == "2024-03-01T12:00:00+08:00"
    assert case["updated_at"] == "2024-03-01T12:01:00+08:00"
    assert [(e["kind"], e["actor"]) for e in case["events"]] == \
        [("opened", "shopper"), ("marked_for_human", "bot")]
    assert case["events"][1] == {"at": "2024-03-01T12:01:00+08:00", "kind": "marked_for_human",
                                 "actor": "bot", "data": {"reason": "顾客要求人工"}}


@pytest.mark.parametrize("case_id", ["SH20990101-0001", "nonsense", "SH20240301-0001x"])
def test_an_unknown_case_is_a_json_404(console, case_id):
    response = get(console, f"/api/cases/{case_id}")
    assert response.status_code == 404
    assert "不存在" in response.json()["error"]


def test_an_unknown_route_is_a_json_404_without_a_trace(console):
    response = get(console, "/no/such/page")
    assert response.status_code == 404
    assert set(response.json()) == {"error"}
    assert "Traceback" not in response.text


def test_a_stored_photo_is_served_to_agents(console):
    response = get(console, f"/media/{PHOTO_SHA}.jpg")
    assert response.status_code == 200
    assert response.content == PHOTO_BYTES
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("raw_path", [
    "/media/..%2Fsecret.txt",
    "/media/..%2F..%2Fsecret.txt",
    "/media/%2E%2E%2Fsecret.txt",
    "/media/../secret.txt",
    "/media/secret.txt",
    f"/media/{PHOTO_SHA[:2]}%2F{PHOTO_SHA}.jpg",
    f"/media/{PHOTO_SHA}.txt",
    f"/media/{PHOTO_SHA.upper()}.jpg",
    f"/media/{'0' * 64}.jpg",
])
def test_photo_paths_outside_the_stored_names_are_refused(console, raw_path):
    # http.client sends the path as written; requests would normalise the dots away.
    host, port = console.replace("http://", "").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", raw_path, headers={"Authorization": f"Bearer {TOKEN}"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 404
    assert b"not for agents" not in body


def test_sigterm_stops_the_console_within_seconds(seeded):
    port = free_port()
    process, log = start_console(seeded, port)
    try:
        wait_for_health(f"http://127.0.0.1:{port}", process)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()
    output = (seeded["workdir"] / f"console-{port}.log").read_text(encoding="utf-8")
    assert "Traceback" not in output
    assert TOKEN not in output and "shopper-1" not in output


def test_without_a_configured_token_the_dev_token_works_and_a_warning_is_logged(seeded):
    port = free_port()
    process, log = start_console(seeded, port, token=None)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, process)
        assert get(base, "/api/cases?shopper_id=shopper-1", token="dev-agent-token").status_code == 200
        assert get(base, "/api/cases?shopper_id=shopper-1").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
    output = (seeded["workdir"] / f"console-{port}.log").read_text(encoding="utf-8")
    assert "AGENT_API_TOKEN is not set" in output and "production" in output
