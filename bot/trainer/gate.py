"""Regression gate (回归门禁): a candidate model goes live only when it is not worse.

`python -m bot.trainer gate` trains a candidate from the project's current data, scores
it and the live model (models/assistant.tar.gz) on the same test sets — the held-out set
tests/data/nlu_heldout.yml and every trainer-curated file in tests/data/trainer/ — and
prints the F1 of each intent side by side. It refuses (exit 1) a candidate that loses
more than the margin in bot/policy/trainer.yml on any intent or on the macro average of
the intents both models know; the live model is then untouched. A passing candidate
replaces the live model, and the one it replaces is kept under models/previous/.
Intents only the candidate knows are shown as new: the live model cannot be compared
on them, and a new intent with no test examples is named as unmeasured.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set

from bot.nlu.evaluation import Example, ModelParser, load_nlu_examples, score
from bot.trainer.rules import load_trainer_rules

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).with_name("rasa"))
LIVE_MODEL = "models/assistant.tar.gz"


@dataclass
class IntentRow:
    intent: str
    examples: int
    live: Optional[float]  # None: the live model does not know the intent
    candidate: float

    @property
    def change(self) -> Optional[float]:
        return None if self.live is None else self.candidate - self.live


@dataclass
class GateReport:
    passed: bool
    margin: float
    test_files: List[str]
    rows: List[IntentRow]
    live_macro: Optional[float]
    candidate_macro: float
    reasons: List[str] = field(default_factory=list)
    unmeasured: List[str] = field(default_factory=list)
    # Test messages the live model got right and the candidate gets wrong: what a
    # trainer looks at when the gate refuses.
    regressions: List[Dict[str, str]] = field(default_factory=list)
    fixed: int = 0
    live_model: Optional[str] = None
    previous_model: Optional[str] = None
    created: str = ""
    train_seconds: float = 0.0

    def table(self) -> str:
        lines = [f"{'intent':28}{'examples':>9}{'live':>8}{'candidate':>11}{'change':>9}"]
        for row in self.rows:
            live = "new" if row.live is None else f"{row.live:.3f}"
            change = "" if row.change is None else f"{row.change:+.3f}"
            flag = "  <- worse than the margin" if row.change is not None and row.change < -self.margin else ""
            lines.append(f"{row.intent:28}{row.examples:>9}{live:>8}{row.candidate:>11.3f}{change:>9}{flag}")
        live_macro = "-" if self.live_macro is None else f"{self.live_macro:.3f}"
        lines.append(f"{'macro F1 (intents both know)':28}{'':>9}{live_macro:>8}{self.candidate_macro:>11.3f}"
                     + ("" if self.live_macro is None else f"{self.candidate_macro - self.live_macro:+9.3f}"))
        return "\n".join(lines)

    def to_json(self) -> Dict:
        data = asdict(self)
        for row, source in zip(data["rows"], self.rows):
            row["change"] = source.change
        return data


def test_files(root: Path) -> List[Path]:
    files = [root / "tests" / "data" / "nlu_heldout.yml"]
    files += sorted((root / "tests" / "data" / "trainer").glob("*.yml"))
    return [f for f in files if f.exists()]


def train_candidate(root: Path, out: Path) -> Path:
    """`rasa train` on the project as it is now, into `out`."""
    command = [RASA, "train", "--config", str(root / "config.yml"), "--domain", str(root / "domain.yml"),
               "--data", str(root / "data"), "--out", str(out), "--fixed-model-name", "candidate"]
    # The pipeline's own components (bot.nlu) must import wherever the project is; Rasa
    # must not phone home.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    model = out / "candidate.tar.gz"
    if done.returncode != 0 or not model.exists():
        tail = "\n".join(done.stdout.strip().splitlines()[-15:])
        raise GateError(f"training the candidate failed (exit {done.returncode}):\n{tail}")
    return model


class GateError(RuntimeError):
    """The gate could not reach a verdict (training failed, no test examples)."""


def model_intents(model: Path) -> Set[str]:
    """The intents a trained model can predict (from the domain inside the archive)."""
    import tarfile

    import yaml

    with tarfile.open(model, "r:gz") as tar:
        member = next((m for m in tar.getmembers() if m.name.endswith("domain.yml")), None)
        if member is None:
            raise GateError(f"{model} has no domain: is it a Rasa model?")
        with tar.extractfile(member) as handle:
            return set((yaml.safe_load(handle) or {}).get("intents") or [])


def _predict(model: Path, examples: Sequence[Example]) -> List[str]:
    parser = ModelParser(model)
    try:
        return parser.intents([e.text for e in examples])
    finally:
        parser.close()


def compare(examples: Sequence[Example], live: Optional[Sequence[str]], candidate: Sequence[str],
            live_knows: Set[str], margin: float, noise_messages: int = 0) -> GateReport:
    """The verdict from predictions on the same examples (pure; unit-tested).

    An intent's loss counts only when more than `noise_messages` of the test messages
    involving it (as the right answer or as the candidate's answer) went from right to
    wrong, net of those that went from wrong to right: on an intent with ten test
    messages one message is 0.05 of F1, and two trainings on nearly the same data
    differ by that much without either being worse."""
    gold = [e.label for e in examples]
    labels = sorted(set(gold))
    candidate_scores = score(gold, candidate, labels)
    live_scores = score(gold, live, labels) if live is not None else None
    counts = {label: gold.count(label) for label in labels}
    rows = [IntentRow(label, counts[label],
                      live_scores.per_label[label] if live_scores and label in live_knows else None,
                      candidate_scores.per_label[label]) for label in labels]
    shared = [r for r in rows if r.live is not None]
    live_macro = sum(r.live for r in shared) / len(shared) if shared else None
    candidate_macro = (sum(r.candidate for r in shared) / len(shared) if shared
                       else candidate_scores.macro_f1)
    def net_lost(intent: str) -> int:
        lost = sum(old == e.label != new and intent in (e.label, new)
                   for e, old, new in zip(examples, live or [], candidate))
        won = sum(old != e.label == new and intent in (e.label, old)
                  for e, old, new in zip(examples, live or [], candidate))
        return lost - won

    losing = {r.intent: net_lost(r.intent) for r in shared if r.change < -margin}
    reasons = [f"{r.intent}: F1 {r.live:.3f} -> {r.candidate:.3f} ({r.change:+.3f}, margin {margin}; "
               f"{losing[r.intent]} more test messages wrong)"
               for r in shared if losing.get(r.intent, 0) > noise_messages]
    if live_macro is not None and candidate_macro < live_macro - margin:
        reasons.append(f"macro F1 {live_macro:.3f} -> {candidate_macro:.3f} "
                       f"({candidate_macro - live_macro:+.3f}, margin {margin})")
    regressions = [{"text": e.text, "intent": e.label, "live": old, "candidate": new}
                   for e, old, new in zip(examples, live or [], candidate) if old == e.label != new]
    fixed = sum(old != e.label == new for e, old, new in zip(examples, live or [], candidate))
    return GateReport(passed=not reasons, margin=margin, test_files=[], rows=rows,
                      live_macro=live_macro, candidate_macro=candidate_macro, reasons=reasons,
                      regressions=regressions, fixed=fixed)


def run_gate(root: Path = ROOT, margin: Optional[float] = None, tests: Optional[Sequence[Path]] = None,
             candidate: Optional[Path] = None, report_path: Optional[Path] = None,
             noise_messages: Optional[int] = None) -> GateReport:
    rules = load_trainer_rules()
    margin = rules.gate_margin if margin is None else margin
    noise_messages = rules.gate_noise_messages if noise_messages is None else noise_messages
    files = list(tests) if tests else test_files(root)
    examples = [e for f in files for e in load_nlu_examples(f)]
    if not examples:
        raise GateError("no test examples: the gate needs tests/data/nlu_heldout.yml or --test FILE")
    live_model = root / LIVE_MODEL
    with tempfile.TemporaryDirectory(prefix="gate-") as workdir:
        started = time.monotonic()
        model = candidate or train_candidate(root, Path(workdir))
        train_seconds = time.monotonic() - started
        candidate_knows = model_intents(model)
        live_knows = model_intents(live_model) if live_model.exists() else set()
        predicted = _predict(model, examples)
        live_predicted = _predict(live_model, examples) if live_model.exists() else None
        report = compare(examples, live_predicted, predicted, live_knows, margin, noise_messages)
        report.test_files = [str(f) for f in files]
        report.train_seconds = round(train_seconds, 1)
        report.created = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        report.unmeasured = sorted(candidate_knows - live_knows - {e.label for e in examples})
        if report.passed:
            if live_model.exists():
                previous = root / "models" / "previous" / f"assistant-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
                previous.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(live_model), previous)
                report.previous_model = str(previous)
            live_model.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(model, live_model) if candidate else shutil.move(str(model), live_model)
            live_model.touch()  # newer than the data it was trained on: make does not retrain
            report.live_model = str(live_model)
    if report_path is not None:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return report


def cli(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.trainer gate",
                                     description="Train a candidate model and let it go live only if it is not worse.")
    parser.add_argument("--margin", type=float, help="largest F1 loss allowed (default: bot/policy/trainer.yml)")
    parser.add_argument("--test", type=Path, action="append",
                        help="test file (repeatable; default: tests/data/nlu_heldout.yml and tests/data/trainer/*.yml)")
    parser.add_argument("--candidate", type=Path, help="score this trained model instead of training one")
    parser.add_argument("--report", type=Path, default=ROOT / "var" / "trainer" / "gate_report.json")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.margin is not None and not 0 <= args.margin <= 1:
        parser.error("--margin must be between 0 and 1")
    for path in (args.test or []) + ([args.candidate] if args.candidate else []):
        if not path.exists():
            parser.error(f"{path} does not exist")
    print("training the candidate model (a few minutes)…" if not args.candidate else "scoring the candidate…",
          file=sys.stderr, flush=True)
    try:
        report = run_gate(args.root.resolve(), args.margin, args.test, args.candidate, args.report)
    except GateError as error:
        print(f"gate: {error}", file=sys.stderr)
        return 2
    print(f"test files: {', '.join(report.test_files)}")
    print(report.table())
    if report.unmeasured:
        print(f"not measured (new, no test examples): {', '.join(report.unmeasured)}")
    if report.live_macro is not None:
        print(f"test messages the candidate now gets right: {report.fixed}; now gets wrong: {len(report.regressions)}")
    for regression in report.regressions[:15]:
        print(f"  now wrong: {regression['text']}  ({regression['intent']} → {regression['candidate']})")
    if report.passed:
        print(f"PASSED: the candidate is now the live model ({report.live_model})"
              + (f"; the previous one is kept as {report.previous_model}" if report.previous_model else "")
              + ". Restart the assistant (make run) to serve it.")
        return 0
    print("REFUSED: the live model stays. " + "; ".join(report.reasons))
    return 1
