"""Where the shop's rules files are read from: `POLICY_DIR` when set (a shop keeps its
own policy outside the code), otherwise the defaults shipped in bot/policy/."""
from __future__ import annotations

import os
from pathlib import Path

SHIPPED = Path(__file__).resolve().parent


def policy_file(name: str) -> Path:
    folder = os.environ.get("POLICY_DIR")
    return (Path(folder) if folder else SHIPPED) / name
