"""`make run`'s supervisor (scripts/serve.sh): three services in the foreground, stopped
together, and a service that dies is reported rather than hidden."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.stack import ROOT, wait_for

PORTS = {"RASA_PORT": "25005", "ACTIONS_PORT": "25055", "CONSOLE_PORT": "28000"}


@pytest.fixture
def serve(trained_model, tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://localhost:{PORTS["ACTIONS_PORT"]}/webhook"\n'
        f'tracker_store:\n  type: SQL\n  dialect: "sqlite"\n  db: "{tmp_path / "tracker.db"}"\n',
        encoding="utf-8")
    env = {**os.environ, **PORTS, "ENDPOINTS": str(endpoints), "PYTHONPATH": str(ROOT),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'cases.db'}", "MEDIA_DIR": str(tmp_path / "media")}
    env.pop("AGENT_API_TOKEN", None)
    log = open(tmp_path / "serve.log", "w+")
    process = subprocess.Popen(["scripts/serve.sh", "run"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(f"http://localhost:{PORTS['RASA_PORT']}/", process)
        wait_for(f"http://localhost:{PORTS['CONSOLE_PORT']}/health", process)
        yield process, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def children(pid):
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return {int(p): Path(f"/proc/{p}/cmdline").read_text().replace("\0", " ") for p in found}


def answering(port, path="/"):
    try:
        requests.get(f"http://localhost:{port}{path}", timeout=2)
        return True
    except requests.ConnectionError:
        return False


def output(log):
    log.flush()
    log.seek(0)
    return log.read()


def test_serves_all_three_with_the_development_token_and_sigterm_stops_them(serve):
    process, log = serve
    response = requests.get(f"http://localhost:{PORTS['CONSOLE_PORT']}/api/cases",
                            params={"shopper_id": "anyone"},
                            headers={"Authorization": "Bearer dev-agent-token"}, timeout=10)
    assert response.json() == {"cases": []}
    assert "dev-agent-token" in output(log)  # the README's development token, announced
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) != 0
    time.sleep(1)
    assert not any(answering(PORTS[p]) for p in PORTS)


def test_a_service_that_dies_is_reported_and_the_others_stop(serve):
    process, log = serve
    console = next(pid for pid, cmd in children(process.pid).items() if "bot.console" in cmd)
    os.kill(console, signal.SIGKILL)
    assert process.wait(timeout=60) != 0
    assert "agent console stopped" in output(log)
    time.sleep(1)
    assert not answering(PORTS["RASA_PORT"]) and not answering(PORTS["ACTIONS_PORT"], "/health")
