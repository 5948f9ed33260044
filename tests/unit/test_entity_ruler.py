"""The spaCy EntityRuler finds every shop term inside real sentences.

Phrase patterns are tokenised by jieba: a term cut differently in context than alone
never matches, silently. So every term is checked inside sentences, not alone.
"""
from pathlib import Path

import pytest

from bot.nlu.entity_ruler import PatternFileError, build_ruler, find_mentions, load_patterns

PATTERNS = Path(__file__).resolve().parents[2] / "bot" / "nlu" / "entity_patterns.yml"
SENTENCES = {
    "product": ["昨天买的{}收到了，有点问题", "主播推荐的{}不太行"],
    "defect": ["东西到手就{}，怎么回事", "才用两天，{}，太差"],
    "carrier": ["发的{}，三天没动", "为什么不发{}"],
}


@pytest.fixture(scope="module")
def patterns():
    return load_patterns(PATTERNS)


@pytest.fixture(scope="module")
def nlp(patterns):
    return build_ruler(patterns)


def test_every_pattern_term_is_found_inside_sentences(patterns, nlp):
    missed = []
    for label, terms in patterns.items():
        for term in terms:
            for template in SENTENCES[label]:
                text = template.format(term)
                found = {(m.label, m.value.lower()) for m in find_mentions(nlp, text)}
                if (label, term.lower()) not in found:
                    missed.append(text)
    assert not missed, f"{len(missed)} sentences where a term was not tagged: {missed[:20]}"


def test_product_and_defect_are_tagged_with_their_positions(nlp):
    text = "家人们，买的连衣裙开线了，还有色差"
    mentions = find_mentions(nlp, text)
    assert [(m.label, m.value) for m in mentions] == [
        ("product", "连衣裙"), ("defect", "开线"), ("defect", "色差")]
    for m in mentions:
        assert text[m.start:m.end] == m.value


def test_a_message_without_shop_terms_has_no_mentions(nlp):
    assert find_mentions(nlp, "你好，在吗") == []


def test_unknown_label_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "patterns.yml"
    bad.write_text("colour: [红色]\n", encoding="utf-8")
    with pytest.raises(PatternFileError, match="colour"):
        load_patterns(bad)


def test_terms_must_be_a_list_of_text(tmp_path):
    bad = tmp_path / "patterns.yml"
    bad.write_text("product: 口红\n", encoding="utf-8")
    with pytest.raises(PatternFileError, match="product"):
        load_patterns(bad)


def test_traditional_terms_are_normalised_like_messages(tmp_path):
    path = tmp_path / "patterns.yml"
    path.write_text("product: [連衣裙]\n", encoding="utf-8")
    assert load_patterns(path) == {"product": ["连衣裙"]}
