"""Measure how well a model sorts messages: shared by tests, benchmarks and the trainer.

Intents are compared one by one; for outside data labelled only by complaint class
(quality / logistics / service / return / transaction / other) intents are first mapped
onto those six classes.
"""
from __future__ import annotations

import asyncio
import csv
import logging
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from sklearn.metrics import f1_score

from bot.categories import CATEGORIES, category_of_intent

OTHER = "other"
CLASSES = CATEGORIES + (OTHER,)
# Questions about the return policy are about returns, not small talk.
CLASS_OF_NON_COMPLAINT_INTENT = {"ask_return_policy": "return"}


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    also: Optional[str] = None


@dataclass(frozen=True)
class Scores:
    macro_f1: float
    per_label: Dict[str, float]
    accuracy: float
    count: int


def class_of_intent(intent: Optional[str]) -> str:
    return category_of_intent(intent) or CLASS_OF_NON_COMPLAINT_INTENT.get(intent or "", OTHER)


def load_nlu_examples(path: Path | str) -> List[Example]:
    """Intent-labelled examples from Rasa NLU YAML (a file or a folder)."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    return [Example(m.get("text"), m.get("intent")) for m in data.intent_examples]


def load_shopper_texts(path: Path | str) -> List[Example]:
    """The labelled real-shopper TSV (`id, text, label, also, source`, no quoting)."""
    with open(path, encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [Example(r["text"], r["label"], r.get("also") or None) for r in rows]


def score(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> Scores:
    per_label = f1_score(gold, predicted, labels=list(labels), average=None, zero_division=0)
    correct = sum(g == p for g, p in zip(gold, predicted))
    return Scores(
        macro_f1=float(per_label.mean()),
        per_label={label: float(f) for label, f in zip(labels, per_label)},
        accuracy=correct / len(gold) if gold else 0.0,
        count=len(gold),
    )


def lenient_accuracy(examples: Sequence[Example], predicted: Sequence[str]) -> float:
    """Share of predictions that name the main class or the stated second class."""
    hits = sum(p in (e.label, e.also) for e, p in zip(examples, predicted))
    return hits / len(examples) if examples else 0.0


class ModelParser:
    """Parses texts with a trained Rasa model, one message at a time as a server would."""

    def __init__(self, model_path: Path | str) -> None:
        from rasa.core.agent import Agent
        from rasa.utils.log_utils import configure_structlog

        # Debug-level parse logs would print every evaluated message.
        configure_structlog(logging.WARNING)
        self._loop = asyncio.new_event_loop()
        self._agent = Agent.load(str(model_path))

    @property
    def agent(self):
        return self._agent

    def run(self, coroutine):
        """Run one of the agent's coroutines on this parser's event loop."""
        return self._loop.run_until_complete(coroutine)

    def parse(self, text: str) -> dict:
        return self.run(self._agent.parse_message(text))

    def intents(self, texts: Iterable[str]) -> List[str]:
        return [self.parse(t)["intent"]["name"] for t in texts]

    def timed_intents(self, texts: Iterable[str]) -> Tuple[List[str], List[float]]:
        intents, seconds = [], []
        for text in texts:
            start = time.perf_counter()
            intents.append(self.parse(text)["intent"]["name"])
            seconds.append(time.perf_counter() - start)
        return intents, seconds

    def close(self) -> None:
        self._loop.close()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
