"""Rasa's FallbackClassifier, except that two complaint categories close together are
not a reason to ask.

PRODUCT.md: a message touching two categories ("box crushed and the cup inside is
cracked") gets the primary one for its case and keeps the other as a tag
(actions/complaints.py `secondary_category`). Asking "which kind of problem?" there
would make the shopper choose what the case already records. Near-ties that involve
any other intent (affirm against deny, say) still fall back, as does low confidence.
"""
from __future__ import annotations

from typing import Optional, Tuple

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT_NAME_KEY, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.categories import category_of_intent


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class ComplaintAwareFallbackClassifier(FallbackClassifier):
    def _nlu_prediction_ambiguous(self, message: Message) -> Tuple[bool, Optional[float]]:
        ambiguous, difference = super()._nlu_prediction_ambiguous(message)
        top_two = message.data.get(INTENT_RANKING_KEY, [])[:2]
        if ambiguous and len(top_two) == 2 and all(
                category_of_intent(r.get(INTENT_NAME_KEY)) for r in top_two):
            return False, difference
        return ambiguous, difference
