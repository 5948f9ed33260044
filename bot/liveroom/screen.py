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

import joblib

from bot.nlu.linear_intent import MODEL_FILE, LinearModel
from bot.nlu.shop_tokens import load_shop_dictionary, tokens


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
        load_shop_dictionary()
        self.model = model
        self.intents = tuple(intents)

    def scores(self, texts: Sequence[str]) -> List[float]:
        """For each text, the linear model's probability of the private intents."""
        if not texts:
            return []
        return [sum(p.get(i, 0.0) for i in self.intents)
                for p in self.model.probabilities([tokens(t) for t in texts])]
