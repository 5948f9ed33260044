"""Rasa component that normalises message text before the tokenizer sees it.

Registered as a featurizer so the recipe runs it on training data as well as on
incoming messages (entity extractors only run at prediction time). The tracker keeps
the shopper's original text: Rasa stores `UserUttered(message.text)`, not the parsed
text.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.text_normalizer import normalize

ORIGINAL_TEXT = "original_text"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False
)
class ChineseNormalizer(GraphComponent):
    """Traditional→Simplified, full→half width, collapsed runs, no CJK-adjacent spaces."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ChineseNormalizer":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize(example)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalize(message)
        return messages

    @staticmethod
    def _normalize(message: Message) -> None:
        raw = message.get(TEXT)
        if not raw or message.get(ORIGINAL_TEXT) is not None:
            return
        normalized = normalize(raw)
        if normalized.text == raw:
            return
        entities = []
        for entity in message.get(ENTITIES) or []:
            moved = dict(entity)
            start, end = normalized.span(entity["start"], entity["end"])
            moved["start"], moved["end"] = start, end
            # An annotated value equal to its span follows the span; a value that
            # differs is an explicit synonym and stays as written.
            if entity.get("value") == raw[entity["start"] : entity["end"]]:
                moved["value"] = normalized.text[start:end]
            entities.append(moved)
        message.set(ORIGINAL_TEXT, raw)
        message.set(TEXT, normalized.text)
        if entities:
            message.set(ENTITIES, entities)
