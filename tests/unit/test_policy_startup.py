"""A shop's rules files are checked when the action server starts: a bad one stops it
with the file, the key and the line, before any shopper meets it."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "bot" / "policy"


def start_actions(policy_dir: Path) -> subprocess.CompletedProcess:
    # Importing the actions package is what the action server does first.
    env = {**os.environ, "POLICY_DIR": str(policy_dir), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", "import actions.services"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def policy_dir(tmp_path):
    for name in ("compensation.yml", "severity.yml", "service_levels.yml", "handoff.yml"):
        shutil.copy(SHIPPED / name, tmp_path / name)
    return tmp_path


def test_the_shipped_rules_start(policy_dir):
    assert start_actions(policy_dir).returncode == 0


@pytest.mark.parametrize("name,old,new,named", [
    ("compensation.yml", "coupon_rate: 0.20", "coupon_rate: 2.5", "coupon_rate"),
    ("severity.yml", "quality: 3", "quality: 7", "default_level.quality"),
    ("handoff.yml", "agents_on_duty: 2", "agents_on_duty: 0", "wait.agents_on_duty"),
])
def test_a_bad_rules_file_stops_the_start_naming_file_key_and_line(policy_dir, name, old, new, named):
    path = policy_dir / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{name} no longer has '{old}': update the test"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1
    started = start_actions(policy_dir)
    assert started.returncode != 0
    assert name in started.stderr and named in started.stderr
    assert f"(line {line})" in started.stderr
