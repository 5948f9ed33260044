"""Console users (agents 客服, supervisors 主管, trainers 训练师) from a YAML file with
scrypt-hashed passwords.

The file is configuration, not code: `CONSOLE_USERS_FILE` names it (default
var/console_users.yml, outside git). Add or change a user with
`python -m bot.console.users add NAME --role agent --display 小美` (asks for the password,
or reads it from $CONSOLE_PASSWORD). When the file does not exist, the console creates one
with a demo agent and a demo supervisor with random passwords, written once to
var/console_first_login.txt (readable by its owner only) for the person trying it out.
"""
from __future__ import annotations

import argparse
import base64
import getpass
import hashlib
import hmac
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

import yaml

from bot.cases.store import PROJECT_ROOT

ROLES = ("agent", "supervisor", "trainer")
DEFAULT_USERS_FILE = PROJECT_ROOT / "var" / "console_users.yml"
FIRST_LOGIN_FILE_NAME = "console_first_login.txt"
# scrypt cost: about 50 ms per check here, slow enough to blunt guessing.
_N, _R, _P = 2 ** 14, 8, 1
MIN_PASSWORD_CHARS = 10


class UsersFileError(ValueError):
    """The users file is missing a field or holds a bad value."""


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    role: str
    display: str
    password_hash: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "scrypt${}${}${}${}${}".format(
        _N, _R, _P, base64.b64encode(salt).decode(), base64.b64encode(digest).decode())


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                                n=int(n), r=int(r), p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# A well-formed hash to check against when the user does not exist, so a wrong name
# takes as long as a wrong password and does not reveal which names exist.
_DECOY_HASH = hash_password(secrets.token_hex(8))


def users_file(environ: Mapping[str, str] = os.environ) -> Path:
    value = environ.get("CONSOLE_USERS_FILE", "").strip()
    return Path(value) if value else DEFAULT_USERS_FILE


def load_users(path: Path) -> Dict[str, ConsoleUser]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UsersFileError(f"{path}: not valid YAML: {error}") from error
    raw_users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(raw_users, dict):
        raise UsersFileError(f"{path}: expected a mapping 'users:' of user names")
    users: Dict[str, ConsoleUser] = {}
    for name, entry in raw_users.items():
        where = f"{path}: users.{name}"
        if not isinstance(entry, dict):
            raise UsersFileError(f"{where}: expected role, display and password_hash")
        role = entry.get("role")
        if role not in ROLES:
            raise UsersFileError(f"{where}.role: must be one of {', '.join(ROLES)}, got {role!r}")
        password_hash = entry.get("password_hash")
        if not isinstance(password_hash, str) or not password_hash.startswith("scrypt$"):
            raise UsersFileError(f"{where}.password_hash: must be a scrypt hash "
                                 "(python -m bot.console.users add …)")
        users[str(name)] = ConsoleUser(name=str(name), role=role,
                                       display=str(entry.get("display") or name),
                                       password_hash=password_hash)
    return users


def save_users(path: Path, users: Mapping[str, ConsoleUser]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"users": {u.name: {"role": u.role, "display": u.display,
                               "password_hash": u.password_hash} for u in users.values()}}
    text = ("# Console users. Passwords are scrypt hashes; manage with\n"
            "# `python -m bot.console.users add NAME --role agent|supervisor|trainer`.\n"
            + yaml.safe_dump(data, allow_unicode=True, sort_keys=True))
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def ensure_users_file(path: Path) -> Optional[Path]:
    """Create a users file with a demo agent, supervisor and trainer when there is none.
    Returns the file holding their first passwords, or None when the users file existed."""
    if path.exists():
        return None
    demo = {"agent": ("agent", "小美"), "supervisor": ("supervisor", "王主管"), "trainer": ("trainer", "李训练师")}
    passwords = {name: secrets.token_urlsafe(9) for name in demo}
    users = {name: ConsoleUser(name, role, display, hash_password(passwords[name]))
             for name, (role, display) in demo.items()}
    save_users(path, users)
    first_login = path.parent / FIRST_LOGIN_FILE_NAME
    first_login.write_text("".join(f"{name} {password}\n" for name, password in passwords.items()),
                           encoding="utf-8")
    os.chmod(first_login, 0o600)
    return first_login


class UserDirectory:
    """The users, re-read when the file changes, so adding an agent needs no restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: Optional[Tuple[int, int]] = None
        self._users: Dict[str, ConsoleUser] = {}

    def _refresh(self) -> None:
        stat = self.path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            self._users, self._stamp = load_users(self.path), stamp

    def get(self, name: str) -> Optional[ConsoleUser]:
        self._refresh()
        return self._users.get(name)

    def authenticate(self, name: str, password: str) -> Optional[ConsoleUser]:
        user = self.get(name)
        ok = check_password(password, user.password_hash if user else _DECOY_HASH)
        return user if ok and user else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.console.users",
                                     description="Manage console users (agents, supervisors, trainers).")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a user or set a user's password and role")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="agent")
    add.add_argument("--display", help="the name shoppers and colleagues see (default: NAME)")
    commands.add_parser("list", help="list users and roles")
    args = parser.parse_args(argv)
    path = users_file()
    users = load_users(path) if path.exists() else {}
    if args.command == "list":
        for user in users.values():
            print(f"{user.name}\t{user.role}\t{user.display}")
        return 0
    password = os.environ.get("CONSOLE_PASSWORD") or getpass.getpass(f"password for {args.name}: ")
    if len(password) < MIN_PASSWORD_CHARS:
        print(f"the password needs at least {MIN_PASSWORD_CHARS} characters", file=sys.stderr)
        return 2
    users[args.name] = ConsoleUser(args.name, args.role, args.display or args.name,
                                   hash_password(password))
    save_users(path, users)
    print(f"saved {args.name} ({args.role}) to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
