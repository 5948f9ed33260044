"""The whole stack as `make run` starts it — action server, case API, Rasa server and
follow-up runner — on test ports, with its own databases and media folder, restartable
in place."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import requests

from bot.console.users import ConsoleUser, hash_password, save_users

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).with_name("rasa"))
# Console users of every test stack: name -> (role, display name, password).
CONSOLE_USERS = {"xiaomei": ("agent", "小美", "xiaomei-password-1"),
                 "dawei": ("agent", "大伟", "dawei-password-1"),
                 "boss": ("supervisor", "王主管", "boss-password-1")}


def wait_for(url: str, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds}s")


class Stack:
    def __init__(self, model: Path, workdir: Path, rasa_port: int = 15005,
                 actions_port: int = 15055, console_port: int = 18000) -> None:
        self.model, self.workdir = model, workdir
        self.rasa_port, self.actions_port, self.console_port = rasa_port, actions_port, console_port
        self.base = f"http://localhost:{rasa_port}"
        self.console = f"http://localhost:{console_port}"
        self.token = secrets.token_hex(16)
        self.agent_token = secrets.token_hex(16)
        self.media = workdir / "media"
        self.database_url = f"sqlite:///{workdir / 'cases.db'}"
        self.processes: List[subprocess.Popen] = []
        self.logs: list = []
        self.endpoints = workdir / "endpoints.yml"
        self.endpoints.write_text(
            f'action_endpoint:\n  url: "http://localhost:{actions_port}/webhook"\n'
            f'tracker_store:\n  type: SQL\n  dialect: "sqlite"\n  db: "{workdir / "tracker.db"}"\n',
            encoding="utf-8")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": self.database_url,
                    "MEDIA_DIR": str(self.media), "AGENT_API_TOKEN": self.agent_token,
                    "CONSOLE_PORT": str(console_port), "RASA_URL": self.base,
                    "RASA_AUTH_TOKEN": self.token, "FOLLOWUP_POLL_SECONDS": "1",
                    # Far enough away that no test meets a follow-up by accident; the
                    # follow-up test moves the due time.
                    "FOLLOWUP_DELAY_SECONDS": "3600"}
        for name in ("ORDER_API_URL", "ORDER_API_TOKEN", "ORDER_FIXTURES"):
            self.env.pop(name, None)
        self.users_file = workdir / "console_users.yml"
        save_users(self.users_file, {name: ConsoleUser(name, role, display, hash_password(password))
                                     for name, (role, display, password) in CONSOLE_USERS.items()})
        self.env["CONSOLE_USERS_FILE"] = str(self.users_file)

    def _spawn(self, name: str, args: List[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "a")
        self.logs.append(log)
        process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def start(self) -> "Stack":
        actions = self._spawn("actions", [RASA, "run", "actions", "--actions", "actions",
                                          "--port", str(self.actions_port)])
        console = self._spawn("console", [sys.executable, "-m", "bot.console"])
        rasa = self._spawn("rasa", [RASA, "run", "--model", str(self.model),
                                    "--port", str(self.rasa_port), "--endpoints", str(self.endpoints),
                                    "--credentials", "credentials.yml",
                                    "--enable-api", "--auth-token", self.token])
        wait_for(f"http://localhost:{self.actions_port}/health", actions)
        wait_for(f"{self.console}/health", console)
        wait_for(f"{self.base}/status?token={self.token}", rasa)
        self._spawn("followup", [sys.executable, "-m", "bot.followup"])
        return self

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self.logs:
            log.close()
        self.processes, self.logs = [], []

    def restart(self) -> None:
        self.stop()
        self.start()

    def say(self, text: str, sender: Optional[str] = None, attachments: Optional[list] = None,
            expect_status: int = 200) -> List[Dict]:
        body: Dict = {"sender": sender or new_sender(), "message": text}
        if attachments is not None:
            body["metadata"] = {"attachments": attachments}
        response = requests.post(f"{self.base}/webhooks/rest/webhook", json=body, timeout=120)
        assert response.status_code == expect_status, response.text
        return response.json()

    def tracker(self, sender: str) -> Dict:
        return requests.get(f"{self.base}/conversations/{sender}/tracker",
                            params={"token": self.token}, timeout=30).json()

    def cases(self, shopper_id: str) -> List[Dict]:
        response = requests.get(f"{self.console}/api/cases", params={"shopper_id": shopper_id},
                                headers={"Authorization": f"Bearer {self.agent_token}"}, timeout=30)
        response.raise_for_status()
        return response.json()["cases"]


def new_sender() -> str:
    return f"shopper-{uuid.uuid4().hex[:8]}"


def texts(replies: List[Dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)
