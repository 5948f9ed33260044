"""Console log-in: sessions and the log-in throttle on both databases (a SQLite file and a
real PostgreSQL, see conftest.py), and the users file with scrypt passwords."""
import os
import stat
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import text

from bot.cases import CaseStore
from bot.console.sessions import SessionStore
from bot.console.users import (FIRST_LOGIN_FILE_NAME, ConsoleUser, UserDirectory,
                               UsersFileError, check_password, ensure_users_file,
                               hash_password, load_users, save_users)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOON = datetime(2024, 3, 1, 12, 0, tzinfo=SHANGHAI)
LIFETIME, IDLE, WINDOW = timedelta(hours=8), timedelta(hours=1), timedelta(minutes=15)


def at(minutes: float) -> datetime:
    return NOON + timedelta(minutes=minutes)


@pytest.fixture
def case_store(db_url):
    store = CaseStore(db_url)
    yield store
    store.close()


@pytest.fixture
def sessions(case_store):
    return SessionStore(case_store, lifetime=LIFETIME, idle=IDLE, failure_window=WINDOW)


# --------------------------------------------------------------------------- sessions


def test_a_session_is_found_by_its_token_only(sessions):
    started = sessions.start("agent", now=NOON)
    other = sessions.start("supervisor", now=NOON)

    found = sessions.get(started.token, now=at(1))
    assert found.username == "agent" and found.csrf_token == started.csrf_token
    assert sessions.get(other.token, now=at(1)).username == "supervisor"
    assert sessions.get(started.token + "x", now=at(1)) is None
    assert sessions.get("", now=at(1)) is None and sessions.get(None, now=at(1)) is None


def test_ending_a_session_logs_out(sessions):
    started = sessions.start("agent", now=NOON)
    sessions.end(started.token)
    assert sessions.get(started.token, now=at(1)) is None


def test_a_session_ends_after_its_lifetime_even_when_used(sessions):
    started = sessions.start("agent", now=NOON)
    # Used every 50 minutes, so never idle for an hour.
    minute = 50
    while minute < LIFETIME.total_seconds() / 60:
        assert sessions.get(started.token, now=at(minute)) is not None, minute
        minute += 50
    assert sessions.get(started.token, now=NOON + LIFETIME) is None


def test_a_session_ends_after_idle_time(sessions):
    started = sessions.start("agent", now=NOON)
    assert sessions.get(started.token, now=NOON + IDLE) is None


def test_using_a_session_extends_its_idle_time(sessions):
    started = sessions.start("agent", now=NOON)
    assert sessions.get(started.token, now=at(50)) is not None
    # 100 minutes after log-in, 50 after the last request.
    assert sessions.get(started.token, now=at(100)) is not None
    assert sessions.get(started.token, now=at(100) + IDLE) is None


def test_the_database_does_not_hold_the_raw_token(sessions, case_store):
    started = sessions.start("agent", now=NOON)
    with case_store.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM console_sessions")).all()
    assert len(rows) == 1
    assert all(started.token not in str(value) for value in rows[0])


# --------------------------------------------------------------------------- throttle


def fail(sessions, name: str, address: str, times: int, when: datetime = NOON) -> None:
    for _ in range(times):
        sessions.record_failure(name, address, now=when)


def test_five_failures_lock_the_name_from_any_address(sessions):
    for n in range(4):
        sessions.record_failure("agent", f"10.0.0.{n}", now=at(n))
    assert not sessions.locked_out("agent", "10.0.0.9", now=at(5))
    sessions.record_failure("agent", "10.0.0.4", now=at(5))

    assert sessions.locked_out("agent", "10.0.0.9", now=at(6))
    assert not sessions.locked_out("supervisor", "10.0.0.8", now=at(6))


def test_twenty_failures_from_one_address_lock_the_address(sessions):
    for n in range(19):
        sessions.record_failure(f"name-{n}", "192.0.2.7", now=NOON)
    assert not sessions.locked_out("agent", "192.0.2.7", now=at(1))
    sessions.record_failure("name-19", "192.0.2.7", now=NOON)

    assert sessions.locked_out("agent", "192.0.2.7", now=at(1))
    assert not sessions.locked_out("agent", "192.0.2.8", now=at(1))


def test_failures_older_than_the_window_do_not_count(sessions):
    fail(sessions, "agent", "10.0.0.1", 5)
    assert sessions.locked_out("agent", "10.0.0.1", now=NOON + WINDOW - timedelta(seconds=1))
    assert not sessions.locked_out("agent", "10.0.0.1", now=NOON + WINDOW + timedelta(seconds=1))
    # Newer failures count on their own: four more are not five.
    fail(sessions, "agent", "10.0.0.1", 4, when=at(20))
    assert not sessions.locked_out("agent", "10.0.0.1", now=at(21))


def test_clearing_the_failures_unlocks_the_name(sessions):
    fail(sessions, "agent", "10.0.0.1", 5)
    assert sessions.locked_out("agent", "10.0.0.1", now=at(1))
    sessions.clear_failures("agent")
    assert not sessions.locked_out("agent", "10.0.0.1", now=at(1))


# --------------------------------------------------------------------------- users


def test_a_password_checks_against_its_hash_only():
    stored = hash_password("正确的密码-correct horse")
    assert check_password("正确的密码-correct horse", stored)
    assert not check_password("正确的密码-correct hors", stored)
    assert not check_password("", stored)
    assert hash_password("正确的密码-correct horse") != stored  # salted


def test_saved_users_load_back(tmp_path):
    path = tmp_path / "users.yml"
    users = {"xiaomei": ConsoleUser("xiaomei", "agent", "小美", hash_password("pw-xiaomei-1")),
             "wang": ConsoleUser("wang", "supervisor", "王主管", hash_password("pw-wang-22"))}
    save_users(path, users)
    assert load_users(path) == users


@pytest.mark.parametrize("entry, field", [
    ({"role": "boss", "display": "老板"}, "role"),
    ({"role": "agent", "display": "小美", "password_hash": "plain-text-password"}, "password_hash"),
    ({"role": "agent", "display": "小美", "password_hash": "bcrypt$2b$12$abc"}, "password_hash"),
])
def test_a_bad_user_entry_names_the_user(tmp_path, entry, field):
    path = tmp_path / "users.yml"
    good = {"role": "agent", "display": "好", "password_hash": hash_password("pw-good-123")}
    entry = {"password_hash": good["password_hash"], **entry}
    path.write_text(yaml.safe_dump({"users": {"good": good, "xiaomei": entry}},
                                   allow_unicode=True), encoding="utf-8")
    with pytest.raises(UsersFileError, match=rf"users\.xiaomei\.{field}"):
        load_users(path)


def first_passwords(first_login) -> dict:
    return dict(line.split(" ", 1) for line in first_login.read_text(encoding="utf-8").splitlines())


def test_a_missing_users_file_is_created_with_an_agent_a_supervisor_and_a_trainer(tmp_path):
    path = tmp_path / "console_users.yml"

    first_login = ensure_users_file(path)

    assert first_login == tmp_path / FIRST_LOGIN_FILE_NAME
    assert stat.S_IMODE(os.stat(first_login).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    passwords = first_passwords(first_login)
    assert set(passwords) == {"agent", "supervisor", "trainer"}
    directory = UserDirectory(path)
    assert directory.authenticate("agent", passwords["agent"]).role == "agent"
    assert directory.authenticate("supervisor", passwords["supervisor"]).role == "supervisor"
    assert directory.authenticate("trainer", passwords["trainer"]).role == "trainer"
    assert directory.authenticate("agent", passwords["supervisor"]) is None
    assert directory.authenticate("nobody", passwords["agent"]) is None


def test_an_existing_users_file_is_left_alone(tmp_path):
    path = tmp_path / "console_users.yml"
    save_users(path, {"xiaomei": ConsoleUser("xiaomei", "agent", "小美", hash_password("pw-1234567"))})
    before = path.read_bytes()

    assert ensure_users_file(path) is None

    assert path.read_bytes() == before
    assert not (tmp_path / FIRST_LOGIN_FILE_NAME).exists()


def test_the_user_directory_notices_a_changed_file(tmp_path):
    path = tmp_path / "console_users.yml"
    save_users(path, {"xiaomei": ConsoleUser("xiaomei", "agent", "小美", hash_password("old-pw-123"))})
    directory = UserDirectory(path)
    assert directory.authenticate("xiaomei", "old-pw-123") is not None
    assert directory.get("lili") is None

    save_users(path, {
        "xiaomei": ConsoleUser("xiaomei", "agent", "小美", hash_password("new-pw-456")),
        "lili": ConsoleUser("lili", "trainer", "丽丽", hash_password("lili-pw-789")),
    })

    assert directory.authenticate("xiaomei", "old-pw-123") is None
    assert directory.authenticate("xiaomei", "new-pw-456") is not None
    assert directory.authenticate("lili", "lili-pw-789").role == "trainer"
