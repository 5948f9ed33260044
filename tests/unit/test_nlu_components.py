"""The custom Rasa components, run as Rasa runs them (no trained model needed)."""
from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.normalizer import ORIGINAL_TEXT, ChineseNormalizer
from bot.nlu.spacy_entities import SpacyEntityRuler
from bot.nlu.tokenizer import ShopJiebaTokenizer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def storage(tmp_path):
    return LocalModelStorage(tmp_path)


@pytest.fixture
def context():
    return ExecutionContext(graph_schema=None, model_id="test")


def normalizer(storage, context):
    return ChineseNormalizer.create({}, storage, Resource("normalizer"), context)


def test_normaliser_rewrites_text_and_keeps_the_original(storage, context):
    message = Message(data={"text": "衣服品質太差！！！線頭到處都是"})
    normalizer(storage, context).process([message])
    assert message.get("text") == "衣服品质太差!线头到处都是"
    assert message.get(ORIGINAL_TEXT) == "衣服品質太差！！！線頭到處都是"


def test_normaliser_moves_training_annotations_onto_the_new_text(storage, context):
    raw = "買的　連衣裙　開線了！！"
    start = raw.index("連")
    example = Message(data={
        "text": raw, "intent": "complain_quality",
        "entities": [
            {"entity": "product", "value": "連衣裙", "start": start, "end": start + 3},
            {"entity": "defect", "value": "开线", "start": raw.index("開"), "end": raw.index("開") + 2},
        ],
    })
    normalizer(storage, context).process_training_data(TrainingData([example]))
    text = example.get("text")
    assert text == "买的连衣裙开线了!"
    for entity in example.get("entities"):
        assert text[entity["start"]:entity["end"]] == entity["value"]


def test_tokenizer_drops_whitespace_tokens(storage, context):
    tokenizer = ShopJiebaTokenizer.create(
        {**ShopJiebaTokenizer.get_default_config(),
         "dictionary_path": str(ROOT / "bot" / "nlu" / "dictionary")},
        storage, Resource("tokenizer"), context)
    tokens = tokenizer.tokenize(Message(data={"text": "iPhone 14 Pro 起球了"}), "text")
    assert [t.text for t in tokens] == ["iPhone", "14", "Pro", "起球", "了"]


def test_spacy_ruler_entities_reach_the_message_and_survive_persisting(storage, context):
    config = {"patterns_path": str(ROOT / "bot" / "nlu" / "entity_patterns.yml")}
    resource = Resource("spacy_ruler")
    trained = SpacyEntityRuler.create(config, storage, resource, context)
    trained.train(TrainingData())
    loaded = SpacyEntityRuler.load(config, storage, resource, context)

    message = Message(data={"text": "主播，我的口红断了，顺丰还压坏了盒子",
                            "entities": [{"entity": "order_id", "value": "1", "start": 0, "end": 1}]})
    loaded.process([message])
    found = {(e["entity"], e["value"], e.get("extractor")) for e in message.get("entities")}
    assert {("product", "口红", "SpacyEntityRuler"), ("defect", "断了", "SpacyEntityRuler"),
            ("carrier", "顺丰", "SpacyEntityRuler")} <= found
    assert any(e["entity"] == "order_id" for e in message.get("entities")), "earlier entities kept"


def test_message_with_no_known_word_falls_back_and_known_words_keep_their_intent(storage, context):
    from bot.nlu.unknown_words import UnknownWordsFallback

    tokenizer = ShopJiebaTokenizer.create(ShopJiebaTokenizer.get_default_config(),
                                          storage, Resource("tokenizer"), context)
    examples = [Message(data={"text": t, "intent": "complain_logistics"}) for t in ["快递太慢了。", "物流不更新！"]]
    training = TrainingData(examples)
    tokenizer.process_training_data(training)
    resource = Resource("unknown_words")
    UnknownWordsFallback.create({}, storage, resource, context).train(training)
    fallback = UnknownWordsFallback.load({}, storage, resource, context)

    known = Message(data={"text": "快递呢", "intent": {"name": "complain_logistics", "confidence": 0.9}})
    unknown = Message(data={"text": "qwxz zzkj", "intent": {"name": "thank", "confidence": 0.97},
                            "intent_ranking": [{"name": "thank", "confidence": 0.97}]})
    # New digits, but a regex knows them: a bare order number is not gibberish.
    number = Message(data={"text": "6973427429367575107",
                           "intent": {"name": "give_order_id", "confidence": 0.85},
                           "entities": [{"entity": "order_id", "value": "6973427429367575107",
                                         "start": 0, "end": 19}]})
    # Known punctuation around unknown words: still nothing to go on.
    punctuated = Message(data={"text": "牛哇。。！", "intent": {"name": "complain_quality", "confidence": 0.62},
                               "intent_ranking": [{"name": "complain_quality", "confidence": 0.62}]})
    tokenizer.process([known, unknown, number, punctuated])
    fallback.process([known, unknown, number, punctuated])
    assert punctuated.get("intent")["name"] == "nlu_fallback"
    assert known.get("intent")["name"] == "complain_logistics"
    assert number.get("intent")["name"] == "give_order_id"
    assert unknown.get("intent")["name"] == "nlu_fallback"
    assert [r["name"] for r in unknown.get("intent_ranking")] == ["nlu_fallback"]



def test_words_after_a_negator_are_marked_up_to_three_and_never_past_punctuation():
    from bot.nlu.linear_intent import mark_negation

    negators = frozenset({"没有", "不是", "不"})
    assert mark_negation(["没有", "让", "我", "失望"], negators) == ["没有", "NOT_让", "NOT_我", "NOT_失望"]
    assert mark_negation(["不是", "很", "好", "的", "东西"], negators) == \
        ["不是", "NOT_很", "NOT_好", "NOT_的", "东西"]
    assert mark_negation(["不", "好", "，", "物流", "快"], negators) == ["不", "NOT_好", "，", "物流", "快"]
    assert mark_negation(["很", "满意"], negators) == ["很", "满意"]


def test_linear_model_learns_negated_words_and_reads_models_pickled_without_negators():
    from bot.nlu.linear_intent import LinearModel

    texts = [(["质量", "很", "好"], "praise"), (["非常", "满意"], "praise"),
             (["质量", "不是", "很", "好"], "complain_quality"), (["不是", "很", "满意"], "complain_quality")]
    model = LinearModel(10.0, 42, ["不是"]).fit([t for t, _ in texts], [i for _, i in texts])
    assert "NOT_满意" in model.words.vocabulary_
    scores = model.probabilities([["服务", "不是", "很", "满意"]])[0]
    assert max(scores, key=scores.get) == "complain_quality"

    del model.negators  # as unpickled from a model trained before negation marking
    assert set(model.probabilities([["很", "满意"]])[0]) == {"praise", "complain_quality"}


def test_balance_weighs_a_rare_complaint_intent_up_and_leaves_other_intents_alone():
    from bot.nlu.linear_intent import LinearModel, class_weights

    intents = ["complain_quality"] * 8 + ["complain_return"] * 2
    assert class_weights(intents, 0.0) is None
    weights = class_weights(intents, 1.0)
    assert weights["complain_quality"] == 5 / 8 and weights["complain_return"] == 5 / 2
    assert class_weights(intents, 0.5)["complain_return"] == (5 / 2) ** 0.5
    # A small non-complaint intent such as greet keeps weight 1 and does not move the
    # complaints' mean.
    assert class_weights(intents + ["greet"], 1.0) == weights
    assert class_weights(["greet"] * 3 + ["praise"], 1.0) is None

    texts = [["屏幕", "坏", "了"]] * 8 + [["坏", "了", "要", "退"]] * 2
    shares = [LinearModel(10.0, 42, balance=b).fit(texts, intents)
              .probabilities([["坏", "了"]])[0]["complain_return"] for b in (0.0, 1.0)]
    assert shares[1] > shares[0] + 0.05


def test_two_complaint_categories_close_together_keep_the_first_other_near_ties_fall_back(storage, context):
    from bot.nlu.fallback import ComplaintAwareFallbackClassifier

    config = {**ComplaintAwareFallbackClassifier.get_default_config(), "threshold": 0.4, "ambiguity_threshold": 0.05}
    fallback = ComplaintAwareFallbackClassifier.create(config, storage, Resource("fallback"), context)

    def message(first, second, confidence=0.48):
        ranking = [{"name": first, "confidence": confidence}, {"name": second, "confidence": confidence - 0.02}]
        return Message(data={"text": "…", "intent": ranking[0], "intent_ranking": ranking})

    two_complaints = message("complain_logistics", "complain_quality")
    yes_or_no = message("affirm", "deny")
    complaint_or_thanks = message("complain_service", "thank")
    unsure = message("complain_logistics", "complain_quality", confidence=0.3)
    fallback.process([two_complaints, yes_or_no, complaint_or_thanks, unsure])
    assert two_complaints.get("intent")["name"] == "complain_logistics"
    assert yes_or_no.get("intent")["name"] == "nlu_fallback"
    assert complaint_or_thanks.get("intent")["name"] == "nlu_fallback"
    assert unsure.get("intent")["name"] == "nlu_fallback"
