"""Fall back when a message shares no word with the training data.

DIET is confident even about a keyboard mash ("qwxz zzkj"): with no known word its
prediction rests on single stray characters. A message none of whose tokens occurs in
the training data carries no evidence, so it becomes `nlu_fallback` and the shopper is
asked which kind of problem they have. Punctuation is no evidence either: every message
kind ends in "。" or "？", so "牛哇。。" (an unknown word and a full stop) would otherwise
be read from its full stop alone.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Dict, Iterable, List, Set, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (ENTITIES, INTENT, INTENT_RANKING_KEY,
                                      PREDICTED_CONFIDENCE_KEY, TEXT)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.model_files import read_json, write_json

VOCABULARY_FILE = "vocabulary.json"
TOKENS = TOKENS_NAMES[TEXT]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class UnknownWordsFallback(GraphComponent):
    def __init__(self, model_storage: ModelStorage, resource: Resource, vocabulary: Set[str]) -> None:
        self._model_storage = model_storage
        self._resource = resource
        self._vocabulary = _evidence(vocabulary)  # models trained before kept punctuation

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "UnknownWordsFallback":
        return cls(model_storage, resource, set())

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "UnknownWordsFallback":
        return cls(model_storage, resource, set(read_json(model_storage, resource, VOCABULARY_FILE)))

    def train(self, training_data: TrainingData) -> Resource:
        self._vocabulary = _evidence(
            _word(token) for example in training_data.intent_examples
            for token in example.get(TOKENS, [])
        )
        write_json(self._model_storage, self._resource, VOCABULARY_FILE, sorted(self._vocabulary))
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            # "/intent" payloads never reach the pipeline: Rasa reads their intent directly.
            tokens = message.get(TOKENS, [])
            if not tokens or any(_word(t) in self._vocabulary for t in tokens):
                continue
            if message.get(ENTITIES):
                # A bare order or case number is new digits, but a regex recognised it.
                continue
            # The guesses go too, not only the top one: the live-room triage reads the
            # runner-up intents and would act on a guess from stray characters.
            fallback = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: 1.0}
            message.set(INTENT, fallback, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [fallback], add_to_output=True)
        return messages


def _word(token: Any) -> str:
    return token.text.lower()


def _evidence(words: Iterable[str]) -> Set[str]:
    """The words that can carry an intent: all but punctuation."""
    return {w for w in words if not all(unicodedata.category(c).startswith("P") for c in w)}
