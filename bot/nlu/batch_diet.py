"""DIETClassifier that predicts a list of messages in one TensorFlow call.

Rasa's DIET runs the model once per message even when the graph hands it a list; the
live-room triage parses a whole batch of comments at once, and one call for the batch
is several times faster than one call each. A single message (every chat turn) takes
Rasa's own path unchanged. Intent classification only: entities come from the regexes
and the spaCy ruler, so entity_recognition must stay off.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.constants import INTENT
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import ENTITY_RECOGNITION, INTENT_CLASSIFICATION


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class BatchDIETClassifier(DIETClassifier):
    def process(self, messages: List[Message]) -> List[Message]:
        if (len(messages) < 2 or self.model is None or self.component_config[ENTITY_RECOGNITION]
                or not self.component_config[INTENT_CLASSIFICATION]
                or self._execution_context.should_add_diagnostic_data):
            return super().process(messages)
        model_data = self._create_model_data(messages, training=False)
        if model_data.is_empty():
            return super().process(messages)
        outputs = self.model.run_inference(model_data, batch_size=len(messages))
        for row, message in enumerate(messages):
            label, ranking = self._predict_label(_row(outputs, row))
            message.set(INTENT, label, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages


def _row(outputs: Dict[Text, Any], row: int) -> Dict[Text, Any]:
    """One message's outputs, shaped as a single-message prediction."""
    return {key: value[row:row + 1] for key, value in outputs.items() if isinstance(value, np.ndarray)}
