"""Blend DIET's intent scores with a linear model over word and character n-grams.

DIET fits the wording of the training data closely; shoppers' real reviews are longer
and wander (make bench: on real shopper texts a plain TF-IDF + logistic regression beat
DIET alone). A linear model over the same evidence generalises differently, so the
average of the two is steadier than either. Runs after DIET (BatchDIETClassifier) and rewrites the
intent and its ranking; the FallbackClassifier after it judges the blended confidence.
"""
from __future__ import annotations

import logging
from collections import Counter
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Text

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bot.categories import COMPLAINT_INTENTS

logger = logging.getLogger(__name__)
MODEL_FILE = "linear_intent.joblib"
TOKENS = TOKENS_NAMES[TEXT]
NEGATION_SCOPE = 3


def _words(message: Message) -> List[str]:
    return [token.text.lower() for token in message.get(TOKENS, [])]


def _no_analyzer(words: List[str]) -> List[str]:
    return words


def mark_negation(words: List[str], negators: FrozenSet[str], scope: int = NEGATION_SCOPE) -> List[str]:
    """The words after a negator, up to `scope` of them and never past punctuation,
    become "NOT_<word>": in 没有让我失望 the 失望 is praise, in 不是很好 the 好 is a
    complaint, which a bag of words cannot tell from 很失望 and 很好."""
    marked: List[str] = []
    left = 0
    for word in words:
        if not any(ch.isalnum() for ch in word):
            left = 0
            marked.append(word)
            continue
        marked.append(f"NOT_{word}" if left else word)
        left = scope if word in negators else max(0, left - 1)
    return marked


def class_weights(intents: List[str], balance: float) -> Optional[Dict[str, float]]:
    """The complaint intents weighted (their mean count / intent's count) ** balance; 0
    leaves every example at 1, 1 weighs the five alike. Our training data has nearly twice
    as many quality examples as return ones, and shoppers' complaints do not come in that
    proportion. Every other intent stays at 1: weighing up small ones such as greet took
    probability off the complaints (客服客服客服 看到回复 was read as greet)."""
    counts = Counter(i for i in intents if i in COMPLAINT_INTENTS)
    if not balance or not counts:
        return None
    mean = sum(counts.values()) / len(counts)
    return {intent: (mean / count) ** balance for intent, count in counts.items()}


def _word_ngrams(words: List[str]) -> List[str]:
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


class LinearModel:
    """TF-IDF over characters (1-3) and jieba words (1-2, negated ones marked), then
    logistic regression."""

    def __init__(self, c: float, seed: int, negators: Iterable[str] = (), balance: float = 0.0) -> None:
        self.negators = frozenset(negators)
        self.balance = balance
        self.chars = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
        self.words = TfidfVectorizer(analyzer=_no_analyzer, sublinear_tf=True)
        self.classifier = LogisticRegression(C=c, max_iter=3000, random_state=seed)

    def _features(self, token_lists: List[List[str]], fit: bool = False):
        texts = ["".join(words) for words in token_lists]
        # Models pickled before negation marking have no negators and mark nothing.
        negators = getattr(self, "negators", frozenset())
        grams = [_word_ngrams(mark_negation(words, negators)) for words in token_lists]
        if fit:
            return hstack([self.chars.fit_transform(texts), self.words.fit_transform(grams)]).tocsr()
        return hstack([self.chars.transform(texts), self.words.transform(grams)]).tocsr()

    def fit(self, token_lists: List[List[str]], intents: List[str]) -> "LinearModel":
        self.classifier.set_params(class_weight=class_weights(intents, self.balance))
        self.classifier.fit(self._features(token_lists, fit=True), intents)
        self._column_major()
        return self

    def _column_major(self) -> None:
        # predict_proba multiplies the sparse features by coef_.T; scipy copies a
        # non-contiguous dense operand on every call (a few ms for one message), so keep
        # coef_ column-major and its transpose contiguous.
        if not self.classifier.coef_.flags.f_contiguous:
            self.classifier.coef_ = np.asfortranarray(self.classifier.coef_)

    def probabilities(self, token_lists: List[List[str]]) -> List[Dict[str, float]]:
        self._column_major()  # models pickled before this was done at fit time
        scores = self.classifier.predict_proba(self._features(token_lists))
        return [dict(zip(self.classifier.classes_, row)) for row in scores]


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class LinearIntentBlend(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # weight: share of the linear model in the blend (0 = DIET alone, 1 = linear alone).
        # negators: words whose next few words are read as negated (config.yml).
        # balance: how far the complaint intents are weighted towards equal shares (class_weights).
        return {"weight": 0.5, "C": 10.0, "random_seed": 42, "ranking_length": 10, "negators": [],
                "balance": 0.0}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 model: Optional[LinearModel] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._model = model

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LinearIntentBlend":
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearIntentBlend":
        try:
            with model_storage.read_from(resource) as directory:
                model = joblib.load(directory / MODEL_FILE)
        except (ValueError, FileNotFoundError):
            logger.warning("no linear intent model in the trained model; DIET decides alone")
            model = None
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [e for e in training_data.intent_examples if e.get(INTENT)]
        if len({e.get(INTENT) for e in examples}) < 2:
            return self._resource
        self._model = LinearModel(self._config["C"], self._config["random_seed"],
                                  self._config["negators"], float(self._config["balance"])).fit(
            [_words(e) for e in examples], [e.get(INTENT) for e in examples])
        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(self._model, directory / MODEL_FILE)
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        todo = [m for m in messages if self._model and m.get(TOKENS) and m.get(INTENT_RANKING_KEY)]
        if not todo:
            return messages
        weight = float(self._config["weight"])
        for message, linear in zip(todo, self._model.probabilities([_words(m) for m in todo])):
            diet = {r["name"]: r[PREDICTED_CONFIDENCE_KEY] for r in message.get(INTENT_RANKING_KEY)}
            names = set(linear) | set(diet)
            blended = {n: weight * linear.get(n, 0.0) + (1 - weight) * diet.get(n, 0.0) for n in names}
            ranking = sorted(({"name": n, PREDICTED_CONFIDENCE_KEY: float(p)}
                              for n, p in blended.items()),
                             key=lambda r: -r[PREDICTED_CONFIDENCE_KEY])
            ranking = ranking[: int(self._config["ranking_length"])]
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        return messages
