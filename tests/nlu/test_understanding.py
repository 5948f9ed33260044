"""The trained model on messages it never saw in training."""
from pathlib import Path

import pytest

from bot.nlu.evaluation import ModelParser, load_nlu_examples, score

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "nlu_heldout.yml"
HELD_APART = [HELDOUT, *sorted(HELDOUT.parent.glob("nlu_reviews_dev*.yml"))]
TRAINING = Path(__file__).resolve().parents[2] / "data" / "nlu"


@pytest.fixture(scope="module")
def parser(trained_model):
    parser = ModelParser(trained_model)
    yield parser
    parser.close()


@pytest.mark.parametrize("held_apart", HELD_APART, ids=lambda path: path.name)
def test_held_apart_sets_are_never_trained_on(held_apart):
    training = {e.text for e in load_nlu_examples(TRAINING)}
    overlap = [e.text for e in load_nlu_examples(held_apart) if e.text in training]
    assert not overlap


def test_heldout_macro_f1_is_at_least_085(parser):
    examples = load_nlu_examples(HELDOUT)
    intents = sorted({e.label for e in examples})
    result = score([e.label for e in examples], parser.intents(e.text for e in examples), intents)
    weakest = sorted(result.per_label.items(), key=lambda kv: kv[1])[:3]
    assert result.macro_f1 >= 0.85, f"macro-F1 {result.macro_f1:.3f}; weakest {weakest}"


@pytest.mark.parametrize("simplified,traditional,intent", [
    ("刚买的台灯用了两天就不亮了", "剛買的檯燈用了兩天就不亮了", "complain_quality"),
    ("下单一周了还没发货", "下單一週了還沒發貨", "complain_logistics"),
    ("问了客服三遍都没人理我", "問了客服三遍都沒人理我", "complain_service"),
    ("鞋子码数不对，我要换货", "鞋子碼數不對，我要換貨", "complain_return"),
    ("同一笔订单扣了我两次钱", "同一筆訂單扣了我兩次錢", "complain_transaction"),
])
def test_each_category_is_understood_in_both_scripts(parser, simplified, traditional, intent):
    assert parser.parse(simplified)["intent"]["name"] == intent
    assert parser.parse(traditional)["intent"]["name"] == intent


def entities(parse, name):
    return [e["value"] for e in parse["entities"] if e["entity"] == name]


def test_order_number_is_extracted_even_in_full_width_digits(parser):
    parse = parser.parse("订单号６９１７３８２９４０１８２７３６４５１的裙子开线了")
    assert entities(parse, "order_id") == ["6917382940182736451"]


def test_phone_and_tracking_numbers_are_extracted(parser):
    parse = parser.parse("快递单号SF1402938475612一直不动，有事打我电话13912345678")
    assert entities(parse, "tracking_no") == ["SF1402938475612"]
    assert entities(parse, "phone") == ["13912345678"]


def test_spacy_entities_reach_the_parse_result(parser):
    parse = parser.parse("主播！買的連衣裙開線了，還有色差")
    assert entities(parse, "product") == ["连衣裙"]
    assert set(entities(parse, "defect")) == {"开线", "色差"}
    assert parse["text"] == "主播!买的连衣裙开线了,还有色差"


def test_synonyms_map_carrier_spellings_to_one_value(parser):
    assert entities(parser.parse("sf快递三天没更新了"), "carrier") == ["顺丰"]


def test_gibberish_falls_back(parser):
    assert parser.parse("qwxz zzkj")["intent"]["name"] == "nlu_fallback"


def test_a_bare_order_number_is_an_order_number_not_gibberish(parser):
    # Its digits are new to the model, but the order-number pattern knows them.
    assert parser.parse("6973427429367575107")["intent"]["name"] == "give_order_id"


@pytest.mark.parametrize("text", ["草莓有几颗软烂了，有点出水", "衬衫袖口有一点点脱线",
                                  "口红外壳稍微有点凹进去"])
def test_a_mild_complaint_is_a_complaint_not_praise(parser, text):
    # Calmly reported small defects once read as praise and got a thank-you.
    assert parser.parse(text)["intent"]["name"] == "complain_quality"
