"""The first, fast look at each comment: the trained model's linear intent classifier
(bot.nlu.linear_intent, read from the model archive) over the same normalised jieba
tokens the pipeline uses, scored for a whole batch at once.

A comment goes on to the full NLU pipeline only when the linear model gives the intents
that open a private conversation a real share of its probability. Chatter — most of a
live room — stops here, which is what makes hundreds of comments a second possible.
"""
from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Iterable, List, Sequence

import jieba
import joblib

from bot.nlu.linear_intent import MODEL_FILE, LinearModel
from bot.nlu.text_normalizer import normalize_text

DICTIONARY = Path(__file__).resolve().parents[1] / "nlu" / "dictionary"
_dictionary_loaded = False


def _load_dictionary() -> None:
    # The pipeline's tokenizer loads the shop dictionary into jieba's default instance.
    global _dictionary_loaded
    if not _dictionary_loaded:
        for path in sorted(DICTIONARY.glob("*.txt")):
            jieba.load_userdict(str(path))
        _dictionary_loaded = True


def tokens(text: str) -> List[str]:
    return [t.lower() for t in jieba.lcut(normalize_text(text)) if t.strip()]


def linear_model_from_archive(archive: Path) -> LinearModel:
    """The LinearIntentBlend component's model inside a trained Rasa model archive."""
    with tarfile.open(archive, "r:gz") as tar:
        member = next((m for m in tar.getmembers()
                       if m.name.endswith("/" + MODEL_FILE) and "LinearIntentBlend" in m.name), None)
        if member is None:
            raise FileNotFoundError(f"{archive} has no {MODEL_FILE}: was it trained with config.yml?")
        with tar.extractfile(member) as handle:
            return joblib.load(handle)


class Screen:
    def __init__(self, model: LinearModel, intents: Iterable[str]) -> None:
        _load_dictionary()
        self.model = model
        self.intents = tuple(intents)

    def scores(self, texts: Sequence[str]) -> List[float]:
        """For each text, the linear model's probability of the private intents."""
        if not texts:
            return []
        return [sum(p.get(i, 0.0) for i in self.intents)
                for p in self.model.probabilities([tokens(t) for t in texts])]
