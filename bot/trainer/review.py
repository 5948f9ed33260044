"""Review (审核): a trainer accepts a mined cluster as examples of an existing intent or
as a new intent, dropping or editing single messages, and the tool writes Rasa YAML.

- Examples go to `data/nlu/trainer_<intent>.yml`; every fourth kept message of a cluster
  of five or more goes instead to `tests/data/trainer/<intent>.yml`, a trainer-curated
  test file the gate evaluates on, so a new intent is measured on messages it never
  saw. Messages already in the training data are skipped.
- A new intent also gets its domain entry, a rule in `data/stories/trainer_rules.yml`
  that answers it with `utter_<intent>`, and that response. Without the response text
  the domain gets a placeholder comment where the response goes instead, so
  `rasa data validate` (and make test, and training) fails on the rule's missing
  response until `respond` fills it — a new intent cannot go live unanswered.
- The clusters file records who accepted what, so the console and the next reviewer
  see it.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple, Union

import yaml

from bot.nlu.evaluation import load_nlu_examples
from bot.trainer import mine as mining

ROOT = Path(__file__).resolve().parents[2]
INTENT_NAME = re.compile(r"[a-z][a-z0-9_]{2,48}")
PLACEHOLDER = "TODO 训练师填写回复"
HOLD_OUT_EVERY = 4
HOLD_OUT_FROM = 5
MAX_EXAMPLE_CHARS = 500
# Intents a trainer may not add examples to: Rasa's own.
RESERVED = {"nlu_fallback"}


class ReviewError(ValueError):
    """A decision the tool cannot carry out; the message says why."""


@dataclass(frozen=True)
class Project:
    """Where the assistant's files are; a copy of the project in tests."""

    root: Path = ROOT

    @property
    def domain(self) -> Path:
        return self.root / "domain.yml"

    @property
    def nlu(self) -> Path:
        return self.root / "data" / "nlu"

    @property
    def rules(self) -> Path:
        return self.root / "data" / "stories" / "trainer_rules.yml"

    @property
    def tests(self) -> Path:
        return self.root / "tests" / "data" / "trainer"

    def intents(self) -> List[str]:
        return list((yaml.safe_load(self.domain.read_text(encoding="utf-8")) or {}).get("intents") or [])


@dataclass(frozen=True)
class Decision:
    # One cluster, or several of one topic (mining splits free rewordings) that become
    # one set of examples.
    cluster: Union[int, Tuple[int, ...]]
    intent: str
    new_intent: bool = False
    response: Optional[str] = None
    drop: FrozenSet[str] = frozenset()
    edits: Mapping[str, str] = field(default_factory=dict)
    hold_out: bool = True
    by: str = "trainer"

    @property
    def cluster_ids(self) -> Tuple[int, ...]:
        return self.cluster if isinstance(self.cluster, tuple) else (self.cluster,)


@dataclass
class Accepted:
    intent: str
    new_intent: bool
    examples: List[str]
    held_out: List[str]
    skipped: List[str]
    files: List[Path]
    placeholder: bool

    def describe(self) -> str:
        lines = [f"{len(self.examples)} examples of {self.intent}"
                 + (" (new intent)" if self.new_intent else "")
                 + (f", {len(self.held_out)} held out for the gate" if self.held_out else "")
                 + (f", {len(self.skipped)} already in the training data" if self.skipped else "")]
        lines += [f"  wrote {path}" for path in self.files]
        if self.placeholder:
            lines.append(f"  the response utter_{self.intent} is a placeholder: fill it with "
                         f"`python -m bot.trainer respond {self.intent} \"…\"` (rasa data validate flags it until then)")
        lines.append("  next: python -m bot.trainer gate")
        return "\n".join(lines)


def clean(text: str) -> str:
    """One line of plain text, as Rasa's example list needs it."""
    return " ".join(str(text).split())[:MAX_EXAMPLE_CHARS]


def find_cluster(clusters: Mapping[str, Any], cluster_id: int) -> Dict[str, Any]:
    for cluster in clusters.get("clusters") or []:
        if cluster.get("id") == cluster_id:
            return cluster
    raise ReviewError(f"no cluster #{cluster_id} in the clusters file")


def accept(project: Project, clusters: Dict[str, Any], decision: Decision) -> Accepted:
    """Carry out one decision: write the YAML, then mark the clusters in `clusters`."""
    chosen = [find_cluster(clusters, cluster_id) for cluster_id in decision.cluster_ids]
    for cluster in chosen:
        if cluster.get("review"):
            review = cluster["review"]
            raise ReviewError(f"cluster #{cluster['id']} was already accepted as {review.get('intent')} "
                              f"by {review.get('by')}")
    messages = [m for cluster in chosen for m in cluster["messages"]]
    unknown = sorted((set(decision.drop) | set(decision.edits)) - {m["id"] for m in messages})
    if unknown:
        named = ", ".join(f"#{i}" for i in decision.cluster_ids)
        raise ReviewError(f"cluster {named} has no message {', '.join(unknown)}")
    intent = decision.intent.strip()
    known = project.intents()
    if decision.new_intent:
        if not INTENT_NAME.fullmatch(intent):
            raise ReviewError(f"{intent!r} is not a usable intent name: lower-case letters, digits and _, "
                              "starting with a letter, 3–49 characters (e.g. ask_price_protection)")
        if intent in known:
            raise ReviewError(f"the intent {intent} already exists: accept the cluster as examples of it instead")
    elif intent not in known or intent in RESERVED:
        raise ReviewError(f"{intent!r} is not an intent of the assistant; known: {', '.join(known)}")

    training = {e.text for e in load_nlu_examples(project.nlu)}
    kept, skipped, seen = [], [], set()
    for message in messages:
        if message["id"] in decision.drop:
            continue
        text = clean(decision.edits.get(message["id"], message["text"]))
        if not text or text in seen:
            continue
        seen.add(text)
        (skipped if text in training else kept).append(text)
    if not kept:
        raise ReviewError(f"nothing left to add from cluster {', '.join(f'#{i}' for i in decision.cluster_ids)}: "
                          "every message was dropped "
                          "or is already in the training data")
    if decision.new_intent and len(kept) < 2:
        raise ReviewError("a new intent needs at least two examples")
    held_out = ([t for i, t in enumerate(kept) if i % HOLD_OUT_EVERY == HOLD_OUT_EVERY - 1]
                if decision.hold_out and len(kept) >= HOLD_OUT_FROM else [])
    examples = [t for t in kept if t not in held_out]

    files = [_add_examples(project.nlu / f"trainer_{intent}.yml", intent, examples,
                           "Added by trainers from shopper transcripts (python -m bot.trainer review).")]
    if held_out:
        files.append(_add_examples(project.tests / f"{intent}.yml", intent, held_out,
                                   "Trainer-curated test examples, held out of training; the gate scores on them."))
    placeholder = False
    if decision.new_intent:
        response = clean(decision.response or "")
        placeholder = not response
        files.append(_add_to_domain(project.domain, intent, response or None))
        files.append(_add_rule(project.rules, intent))
    review = {"status": "accepted", "intent": intent, "new_intent": decision.new_intent,
              "clusters": list(decision.cluster_ids), "examples": len(examples), "held_out": len(held_out),
              "by": decision.by, "at": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
              "dropped": sorted(decision.drop), "edited": sorted(decision.edits)}
    for cluster in chosen:
        cluster["review"] = dict(review)
    return Accepted(intent, decision.new_intent, examples, held_out, skipped, files, placeholder)


def respond(project: Project, intent: str, text: str) -> List[Path]:
    """Fill a new intent's response placeholder and add the rule that answers it."""
    text = clean(text)
    if not text or text == PLACEHOLDER:
        raise ReviewError("the response needs some text")
    if intent not in project.intents():
        raise ReviewError(f"{intent!r} is not an intent of the assistant")
    return [_set_response(project.domain, intent, text), _add_rule(project.rules, intent)]


# Writing YAML -------------------------------------------------------------------------

def _nlu_yaml(comment: str, blocks: Mapping[str, Sequence[str]]) -> str:
    lines = ['version: "3.1"', "nlu:", f"# {comment}"]
    for intent, examples in blocks.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {example}" for example in examples]
    return "\n".join(lines) + "\n"


def _add_examples(path: Path, intent: str, examples: Sequence[str], comment: str) -> Path:
    blocks: Dict[str, List[str]] = {}
    if path.exists():
        for example in load_nlu_examples(path):
            blocks.setdefault(example.label, []).append(example.text)
    existing = blocks.setdefault(intent, [])
    existing.extend(e for e in examples if e not in existing)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_nlu_yaml(comment, blocks), encoding="utf-8")
    return path


def _block(lines: List[str], key: str) -> range:
    """The lines of a top-level key's block in a YAML file (its header excluded)."""
    header = next((i for i, line in enumerate(lines) if line.rstrip() == f"{key}:"), None)
    if header is None:
        raise ReviewError(f"the domain has no top-level {key}:")
    end = next((i for i in range(header + 1, len(lines))
                if lines[i].strip() and not lines[i].startswith((" ", "#"))), len(lines))
    while end > header + 1 and not lines[end - 1].strip():
        end -= 1
    return range(header + 1, end)


def _response_lines(intent: str, response: Optional[str]) -> List[str]:
    if response is None:
        return [_placeholder(intent)]
    # A JSON string is a valid double-quoted YAML scalar, emoji and all.
    return [f"  utter_{intent}:", f"    - text: {json.dumps(response, ensure_ascii=False)}"]


def _placeholder(intent: str) -> str:
    return (f"  # utter_{intent}: {PLACEHOLDER} "
            f"(python -m bot.trainer respond {intent} \"…\", or write the response here)")


def _write_domain(domain: Path, lines: List[str], intent: str, response: Optional[str]) -> Path:
    # Edited as text, not re-dumped: a YAML round trip would reflow the shop's replies and
    # escape their emoji. The result is parsed before it replaces the file.
    text = "\n".join(lines) + "\n"
    data = yaml.safe_load(text)
    expected = None if response is None else [{"text": response}]
    if intent not in data.get("intents", []) or \
            data.get("responses", {}).get(f"utter_{intent}") != expected:
        raise ReviewError(f"could not add {intent} to {domain} safely; add it by hand")
    domain.write_text(text, encoding="utf-8")
    return domain


def _add_to_domain(domain: Path, intent: str, response: Optional[str]) -> Path:
    lines = domain.read_text(encoding="utf-8").splitlines()
    responses = _block(lines, "responses")
    lines[responses.stop:responses.stop] = [""] + _response_lines(intent, response)
    intents = _block(lines, "intents")
    lines.insert(intents.stop, f"  - {intent}")
    return _write_domain(domain, lines, intent, response)


def _set_response(domain: Path, intent: str, response: str) -> Path:
    lines = domain.read_text(encoding="utf-8").splitlines()
    responses = _block(lines, "responses")
    start = next((i for i in responses if lines[i].rstrip() == f"  utter_{intent}:"
                  or lines[i].startswith(f"  # utter_{intent}: ")), None)
    if start is None:
        raise ReviewError(f"the domain has no response utter_{intent} (nor its placeholder)")
    end = next((i for i in range(start + 1, responses.stop)
                if lines[i].strip() and not lines[i].startswith("   ")), responses.stop)
    while end > start + 1 and not lines[end - 1].strip():
        end -= 1
    lines[start:end] = _response_lines(intent, response)
    return _write_domain(domain, lines, intent, response)


def _add_rule(path: Path, intent: str) -> Path:
    existing = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
    rules = list((existing or {}).get("rules") or [])
    name = f"answer {intent} (added by a trainer)"
    if not any(r.get("rule") == name for r in rules):
        rules.append({"rule": name, "steps": [{"intent": intent}, {"action": f"utter_{intent}"}]})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('version: "3.1"\n# Rules for intents added by trainers (python -m bot.trainer review / respond).\n'
                    + yaml.safe_dump({"rules": rules}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# Command line -------------------------------------------------------------------------

def _edits(values: Sequence[str]) -> Dict[str, str]:
    edits = {}
    for value in values:
        message_id, separator, text = value.partition("=")
        if not separator or not message_id.strip():
            raise ReviewError(f"--edit takes ID=TEXT (e.g. m12=买完降价了能补差价吗), got {value!r}")
        edits[message_id.strip()] = text
    return edits


def cli(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.trainer review",
                                     description="Accept a mined cluster as training examples.")
    parser.add_argument("--clusters", type=Path, default=ROOT / "var" / "trainer" / "clusters.json")
    parser.add_argument("--list", action="store_true", help="show the clusters and exit")
    parser.add_argument("--show", type=int, metavar="ID", help="show every message of one cluster")
    parser.add_argument("--cluster", metavar="ID[,ID…]",
                        help="the cluster(s) to accept; several clusters of one topic become one intent")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--intent", help="accept as examples of this existing intent")
    target.add_argument("--new-intent", metavar="NAME", help="accept as a new intent with this name")
    parser.add_argument("--response", help="the bot's reply to the new intent (else a placeholder)")
    parser.add_argument("--drop", default="", help="message ids to leave out, e.g. m3,m7")
    parser.add_argument("--edit", action="append", default=[], metavar="ID=TEXT", help="reword one message")
    parser.add_argument("--no-hold-out", action="store_true", help="train on every message, keep none for the gate")
    parser.add_argument("--by", default="trainer", help="who accepts (recorded in the clusters file)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        clusters = mining.load(args.clusters)
        if args.list:
            print(mining.summary(clusters))
            return 0
        if args.show is not None:
            cluster = find_cluster(clusters, args.show)
            for message in cluster["messages"]:
                print(f"{message['id']:>6}  {message['text']}")
            return 0
        if args.cluster is None or not (args.intent or args.new_intent):
            parser.error("give --cluster ID and --intent NAME or --new-intent NAME (or --list / --show ID)")
        try:
            ids = [int(part) for part in args.cluster.split(",") if part.strip()]
        except ValueError:
            parser.error(f"--cluster takes cluster numbers such as 3 or 3,7,12, got {args.cluster!r}")
        drop = frozenset(i.strip() for i in args.drop.split(",") if i.strip())
        edits = _edits(args.edit)
        accepted = accept(Project(args.root), clusters, Decision(
            cluster=tuple(ids) if len(ids) > 1 else ids[0], intent=args.new_intent or args.intent,
            new_intent=bool(args.new_intent), response=args.response, drop=drop, edits=edits,
            hold_out=not args.no_hold_out, by=args.by))
        mining.save(clusters, args.clusters)
    except (ReviewError, mining.MineError) as error:
        print(f"review: {error}", file=sys.stderr)
        return 2
    print(accepted.describe())
    return 0


def respond_cli(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.trainer respond",
                                     description="Fill a new intent's reply and add the rule that answers it.")
    parser.add_argument("intent")
    parser.add_argument("text")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        files = respond(Project(args.root), args.intent, args.text)
    except ReviewError as error:
        print(f"respond: {error}", file=sys.stderr)
        return 2
    print("\n".join(f"wrote {path}" for path in files))
    return 0
