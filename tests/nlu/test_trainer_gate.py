"""The regression gate trains real candidates (on a small project with a fast pipeline,
so three trainings take a minute or two) and lets one go live only when it is not
worse than the live model on the test sets."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from bot.nlu.evaluation import Example, load_nlu_examples
from bot.trainer.gate import cli, compare, run_gate

ROOT = Path(__file__).resolve().parents[2]
INTENTS = {"greet": "chitchat.yml", "complain_logistics": "complain_logistics.yml",
           "complain_quality": "complain_quality.yml"}
CONFIG = f"""recipe: default.v1
language: zh
assistant_id: gate-test
pipeline:
  - name: bot.nlu.normalizer.ChineseNormalizer
  - name: bot.nlu.tokenizer.ShopJiebaTokenizer
    dictionary_path: {ROOT / 'bot' / 'nlu' / 'dictionary'}
  - name: CountVectorsFeaturizer
    analyzer: char
    min_ngram: 1
    max_ngram: 3
  - name: LogisticRegressionClassifier
    random_state: 42
policies:
  - name: RulePolicy
"""


def examples_of(intent: str, count: int, skip: int = 0) -> list:
    texts = [e.text for e in load_nlu_examples(ROOT / "data" / "nlu" / INTENTS[intent]) if e.label == intent]
    return texts[skip:skip + count]


def write_nlu(path: Path, blocks: dict) -> None:
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in blocks.items():
        lines += [f"- intent: {intent}", "  examples: |"] + [f"    - {t}" for t in texts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gate-project")
    (root / "config.yml").write_text(CONFIG, encoding="utf-8")
    (root / "domain.yml").write_text(yaml.safe_dump({
        "version": "3.1", "intents": list(INTENTS),
        "responses": {f"utter_{i}": [{"text": f"回复{i}"}] for i in INTENTS}}, allow_unicode=True), encoding="utf-8")
    (root / "data").mkdir()
    (root / "data" / "rules.yml").write_text(yaml.safe_dump({"version": "3.1", "rules": [
        {"rule": i, "steps": [{"intent": i}, {"action": f"utter_{i}"}]} for i in INTENTS]}), encoding="utf-8")
    held_out = [e for e in load_nlu_examples(ROOT / "tests" / "data" / "nlu_heldout.yml") if e.label in INTENTS]
    write_nlu(root / "heldout.yml", {i: [e.text for e in held_out if e.label == i] for i in INTENTS})
    return root


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_gate_refuses_a_worse_candidate_and_lets_a_better_one_go_live(project, capsys):
    tests = [project / "heldout.yml"]
    live = project / "models" / "assistant.tar.gz"
    clean = {i: examples_of(i, 40) for i in INTENTS}
    write_nlu(project / "data" / "nlu.yml", clean)
    first = run_gate(project, margin=0.05, tests=tests)
    assert first.passed and live.exists()  # no live model yet: the first candidate goes live
    before = digest(live)

    # Corrupted: most quality complaints labelled as logistics.
    corrupted = {"greet": clean["greet"], "complain_quality": clean["complain_quality"][:5],
                 "complain_logistics": clean["complain_logistics"] + clean["complain_quality"][5:]}
    write_nlu(project / "data" / "nlu.yml", corrupted)
    report_path = project / "gate_report.json"
    assert cli(["--root", str(project), "--test", str(tests[0]), "--margin", "0.05",
                "--report", str(report_path)]) == 1
    out = capsys.readouterr().out
    assert "REFUSED" in out and "complain_quality" in out
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert not report["passed"] and any("complain_quality" in r for r in report["reasons"])
    assert digest(live) == before  # the live model stayed

    # More correct examples: accepted, goes live, the old one is kept.
    write_nlu(project / "data" / "nlu.yml", {i: examples_of(i, 40) + examples_of(i, 60, skip=40) for i in INTENTS})
    assert cli(["--root", str(project), "--test", str(tests[0]), "--margin", "0.05",
                "--report", str(report_path)]) == 0
    assert "PASSED" in capsys.readouterr().out
    assert digest(live) != before
    assert before in [digest(p) for p in (project / "models" / "previous").glob("*.tar.gz")]


def ex(label: str, n: int) -> list:
    return [Example(f"{label}{k}", label) for k in range(n)]


def test_a_loss_on_one_intent_beyond_the_margin_refuses_even_when_the_average_holds():
    examples = ex("a", 10) + ex("b", 10)
    live = ["a"] * 10 + ["b"] * 10
    candidate = ["a"] * 9 + ["b"] + ["b"] * 10
    report = compare(examples, live, candidate, {"a", "b"}, margin=0.02)
    assert not report.passed and report.reasons[0].startswith("a:")
    # The trainer sees which test message the candidate now gets wrong.
    assert report.regressions == [{"text": "a9", "intent": "a", "live": "a", "candidate": "b"}]
    assert compare(examples, live, candidate, {"a", "b"}, margin=0.2).passed


def test_one_message_changing_its_label_is_noise_two_are_a_loss():
    intents = "abcdefghij"  # ten intents of ten test messages, as in the held-out set
    examples = [e for label in intents for e in ex(label, 10)]
    live = [e.label for e in examples]

    def flipped(*names):
        return ["b" if e.text in names else e.label for e in examples]

    known = set(intents)
    assert compare(examples, live, flipped("a9"), known, margin=0.02, noise_messages=1).passed
    refused = compare(examples, live, flipped("a8", "a9"), known, margin=0.02, noise_messages=1)
    assert not refused.passed and "2 more test messages wrong" in refused.reasons[0]
    assert not compare(examples, live, flipped("a9"), known, margin=0.02, noise_messages=0).passed
    # A message of the intent won back offsets one lost.
    was_wrong = flipped("a7")
    now = ["a" if e.text == "a7" else label for e, label in zip(examples, flipped("a8", "a9"))]
    assert compare(examples, was_wrong, now, known, margin=0.02, noise_messages=1).passed


def test_a_new_intent_is_shown_as_new_and_not_held_against_the_candidate():
    examples = ex("a", 10) + ex("new_intent", 5)
    live = ["a"] * 15  # the live model cannot know the new intent
    candidate = ["a"] * 10 + ["new_intent"] * 5
    report = compare(examples, live, candidate, {"a"}, margin=0.02)
    assert report.passed
    row = next(r for r in report.rows if r.intent == "new_intent")
    assert row.live is None and row.candidate == 1.0 and "new" in report.table()
