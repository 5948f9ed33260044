"""Serve the agent console: `python -m bot.console`.

Settings come from the environment, read once here:
  CONSOLE_HOST     address to listen on (default 127.0.0.1)
  CONSOLE_PORT     port (default 8000)
  AGENT_API_TOKEN  the machines' bearer token for /api/ (a development token when unset)
  DATABASE_URL     the case database (default: SQLite file var/cases.db)
  MEDIA_DIR        where case photos are stored (default: var/media)
  CONSOLE_USERS_FILE  agents, supervisors and trainers (default: var/console_users.yml;
                   created with three demo users when missing, see bot/console/users.py)
  TRAINER_DIR      where the Training page reads clusters.json and gate_report.json
                   (default var/trainer)
  TRAINER_PROJECT_DIR  the assistant's files the Training page writes into (default: here)
  CONSOLE_SECURE_COOKIES  1 behind HTTPS: session cookies are then sent over HTTPS only
  RASA_URL, RASA_AUTH_TOKEN  the Rasa server's HTTP API, for transcripts and agent replies
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

from bot.cases.store import PROJECT_ROOT, CaseStore, default_database_url
from bot.console.app import create_app
from bot.console.rasa_client import RasaClient
from bot.console.users import UserDirectory, ensure_users_file, users_file
from bot.orders import order_book_from_env
from bot.trainer.review import Project

DEV_TOKEN = "dev-agent-token"
logger = logging.getLogger("bot.console")


@dataclass(frozen=True)
class ConsoleSettings:
    host: str
    port: int
    token: str
    token_is_dev: bool
    database_url: str
    media_dir: Path
    users_file: Path
    secure_cookies: bool
    rasa_url: str
    rasa_token: str
    trainer_dir: Path
    training_root: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "ConsoleSettings":
        raw_port = environ.get("CONSOLE_PORT", "8000").strip()
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise ValueError(f"CONSOLE_PORT={raw_port!r} is not a port number (1–65535)")
        token = environ.get("AGENT_API_TOKEN", "").strip()
        media_dir = environ.get("MEDIA_DIR", "").strip()
        return cls(
            host=environ.get("CONSOLE_HOST", "").strip() or "127.0.0.1",
            port=int(raw_port),
            token=token or DEV_TOKEN,
            token_is_dev=not token,
            database_url=default_database_url(environ),
            media_dir=Path(media_dir) if media_dir else PROJECT_ROOT / "var" / "media",
            users_file=users_file(environ),
            secure_cookies=environ.get("CONSOLE_SECURE_COOKIES", "").strip() in ("1", "true", "yes"),
            rasa_url=environ.get("RASA_URL", "").strip() or "http://localhost:5005",
            rasa_token=environ.get("RASA_AUTH_TOKEN", "").strip(),
            trainer_dir=Path(environ.get("TRAINER_DIR", "").strip() or PROJECT_ROOT / "var" / "trainer"),
            training_root=Path(environ.get("TRAINER_PROJECT_DIR", "").strip() or PROJECT_ROOT),
        )


def main(environ: Optional[Mapping[str, str]] = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = ConsoleSettings.from_env(os.environ if environ is None else environ)
    except ValueError as error:
        logger.error("%s", error)
        return 2
    if settings.token_is_dev:
        logger.warning("AGENT_API_TOKEN is not set: using the development token %r. "
                       "Never run a production console without setting AGENT_API_TOKEN.", DEV_TOKEN)
    first_login = ensure_users_file(settings.users_file)
    if first_login is not None:
        logger.warning("created %s with the demo users 'agent', 'supervisor' and 'trainer'; their passwords "
                       "are in %s", settings.users_file, first_login)
    if not settings.rasa_token:
        logger.warning("RASA_AUTH_TOKEN is not set: the console cannot read transcripts or "
                       "send agent replies (the Rasa HTTP API is only enabled with a token)")
    store = CaseStore(settings.database_url)
    app = create_app(store, settings.token, media_root=settings.media_dir,
                     users=UserDirectory(settings.users_file),
                     rasa=RasaClient(settings.rasa_url, settings.rasa_token) if settings.rasa_token else None,
                     orders=order_book_from_env(), secure_cookies=settings.secure_cookies,
                     training_project=Project(settings.training_root), trainer_dir=settings.trainer_dir)
    app.config.MOTD = False
    logger.info("agent console on http://%s:%d (cases: %r, photos: %s)",
                settings.host, settings.port, store, settings.media_dir)
    try:
        # One worker, no reloader: the process that starts is the one that serves, so a
        # signal to it stops the console. Access logs would carry shopper ids: off.
        app.run(host=settings.host, port=settings.port, workers=1, auto_reload=False,
                debug=False, access_log=False, register_sys_signals=True)
    finally:
        store.close()
    logger.info("agent console stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
