"""scripts/make_sample_transcripts.py against a running stack: the conversations it drives
land in the tracker store as transcripts (every shopper message, the bot's replies), the
topics the model does not know yet (price protection) among them, and the summary it
prints counts exactly what the tracker store holds."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from tests.e2e.stack import Stack

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_sample_transcripts.py"
CONVERSATIONS = 30
SEED = 11


def _load_script():
    spec = importlib.util.spec_from_file_location("make_sample_transcripts", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


samples = _load_script()


@pytest.fixture(scope="module")
def transcripts_stack(trained_model, tmp_path_factory):
    # 68000 is past the last TCP port (65535): the console takes 65080.
    stack = Stack(trained_model, tmp_path_factory.mktemp("transcripts-stack"),
                  rasa_port=65005, actions_port=65055, console_port=65080).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def run(transcripts_stack, tmp_path_factory):
    """One run of the script's main(): its exit code, its summary and the stack."""
    out = tmp_path_factory.mktemp("transcripts") / "summary.json"
    code = samples.main(["--url", transcripts_stack.base, "--conversations", str(CONVERSATIONS),
                         "--seed", str(SEED), "--workers", "4", "--summary-json", str(out),
                         "--orders", str(samples.DEFAULT_ORDERS)])
    return code, json.loads(out.read_text(encoding="utf-8")), transcripts_stack


def _events(stack: Stack, sender: str, kind: str):
    return [e for e in stack.tracker(sender)["events"] if e["event"] == kind]


def test_the_run_finishes_without_errors_and_plays_the_planned_mix(run):
    code, summary, _ = run
    assert code == 0, summary["error_samples"]
    assert summary["errors"] == 0
    assert summary["conversations"] == CONVERSATIONS
    assert summary["by_kind"] == {k: n for k, n in samples.allocate(CONVERSATIONS).items() if n}
    assert summary["by_kind"]["price_protection"] >= 1
    assert summary["messages"] >= CONVERSATIONS


def test_every_conversation_is_in_the_tracker_store_with_the_counted_messages(run):
    _, summary, stack = run
    stored_users = stored_bots = fallback = 0
    for sender, sent in summary["messages_by_sender"].items():
        users = _events(stack, sender, "user")
        assert users, f"no user message stored for {sender}"
        assert len(users) == sent, sender
        assert all((u.get("metadata") or {}).get("source") == samples.SOURCE for u in users)
        bots = _events(stack, sender, "bot")
        stored_users += len(users)
        stored_bots += len(bots)
        fallback += samples.BotTurn.read(
            [{"text": b.get("text"), "buttons": (b.get("data") or {}).get("buttons")} for b in bots]
        ).fallback if bots else 0
    assert stored_users == summary["messages"]
    assert stored_bots == summary["bot_replies"]
    assert fallback == summary["fallback_replies"]
    assert len(summary["messages_by_sender"]) == summary["senders"]


def test_complaints_are_told_by_the_owners_of_real_orders(run):
    _, summary, stack = run
    orders = samples.load_orders(samples.DEFAULT_ORDERS)
    owners = {order.shopper_id for order in orders}
    planned = samples.plan(CONVERSATIONS, SEED, orders)
    complaints = [c for c in planned if c.kind == "complaint"]
    assert complaints and all(c.sender in owners for c in complaints)
    assert {c.category for c in complaints} <= set(samples.CATEGORIES)
    # At least one complaint went on past its first message, to the order number.
    said = [u["text"] for c in complaints for u in _events(stack, c.sender, "user")]
    assert any(c.order.order_id in text for c in complaints for text in said)


def test_price_protection_questions_are_stored_as_the_shopper_wrote_them(run):
    _, _, stack = run
    planned = samples.plan(CONVERSATIONS, SEED, samples.load_orders(samples.DEFAULT_ORDERS))
    asked = [c for c in planned if c.kind == "price_protection"]
    assert asked
    stored = {u["text"] for c in asked for u in _events(stack, c.sender, "user")}
    for conversation in asked:
        assert conversation.opening[-1] in stored
    assert any(any(word in text for word in ("价保", "價保", "差价", "差價", "保价", "保價", "降价", "降價"))
               for text in stored)


def test_the_plan_is_fixed_by_the_seed():
    orders = samples.load_orders(samples.DEFAULT_ORDERS)
    first = [(c.sender, c.kind, c.opening) for c in samples.plan(120, 3, orders)]
    again = [(c.sender, c.kind, c.opening) for c in samples.plan(120, 3, orders)]
    other = [(c.sender, c.kind, c.opening) for c in samples.plan(120, 4, orders)]
    assert first == again
    assert first != other


def test_a_stack_that_is_not_running_gets_a_clear_error(capsys):
    code = samples.main(["--url", "http://localhost:9", "--conversations", "3"])
    assert code == 2
    assert "make run" in capsys.readouterr().err
