"""Rasa wrapper around the spaCy EntityRuler in `bot.nlu.entity_ruler`.

Trainable only so that the patterns are copied into the model: a trained model keeps
tagging what it was trained with even if the YAML changes later.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.entity_ruler import build_ruler, find_mentions, load_patterns
from bot.nlu.model_files import read_json, write_json

PATTERNS_FILE = "patterns.json"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True
)
class SpacyEntityRuler(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"patterns_path": "bot/nlu/entity_patterns.yml"}

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "jieba"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        patterns: Dict[str, List[str]],
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._patterns = patterns
        self._nlp = build_ruler(patterns)

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "SpacyEntityRuler":
        return cls(config, model_storage, resource, load_patterns(config["patterns_path"]))

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "SpacyEntityRuler":
        return cls(config, model_storage, resource, read_json(model_storage, resource, PATTERNS_FILE))

    def train(self, training_data: TrainingData) -> Resource:
        write_json(self._model_storage, self._resource, PATTERNS_FILE, self._patterns)
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            found = [
                {"entity": m.label, "value": m.value, "start": m.start, "end": m.end}
                for m in find_mentions(self._nlp, text)
            ]
            if found:
                entities = message.get(ENTITIES, []) + self.add_extractor_name(found)
                message.set(ENTITIES, entities, add_to_output=True)
        return messages
