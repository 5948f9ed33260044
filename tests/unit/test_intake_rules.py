"""bot.intake: the remedy a shopper wants, whether photos are needed, a reason for having
none, and the checks on intake.yml. Words are matched on normalised text, so every rule
must hold for Traditional script too."""
from __future__ import annotations

import copy

import pytest
import yaml

from bot.intake import (NO_PREFERENCE, REMEDIES, IntakeConfigError, cannot_photograph, rating_of,
                        intake_rules, photos_required, wanted_remedy)
from bot.intake.rules import RULES_FILE, parse_rules


@pytest.fixture
def rules_data():
    """intake.yml as shipped, ready to be spoiled by a test."""
    return yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))


def test_the_shipped_rules_parse_with_every_remedy():
    rules = intake_rules()

    assert set(rules.remedies) == set(REMEDIES)
    assert all(rules.remedies[name] for name in REMEDIES)
    assert rules.photos_required_categories == ("quality",)


# =========================================================================== wanted_remedy


@pytest.mark.parametrize("text, remedy", [
    ("我要退款", "refund"),
    ("直接把钱退给我", "refund"),
    ("我要退錢", "refund"),
    ("退貨退款吧", "refund"),
    ("给我换货", "exchange"),
    ("換貨", "exchange"),
    ("能不能換一個新的", "exchange"),
    ("帮我维修一下", "repair"),
    ("送去維修", "repair"),
    ("要求赔偿", "compensation"),
    ("你們要賠償我的損失", "compensation"),
])
def test_each_remedy_is_read_in_simplified_and_traditional(text, remedy):
    assert wanted_remedy(text) == remedy


def test_a_declined_remedy_is_not_the_one_wanted():
    assert wanted_remedy("不要退款，换货就行") == "exchange"


@pytest.mark.parametrize("text", ["不退款", "不要退款", "不想退款"])
def test_only_declining_a_remedy_leaves_it_unsaid(text):
    assert wanted_remedy(text) is None


@pytest.mark.parametrize("text", ["听你们的", "聽你們的", "你们看着办吧", "怎么处理都行"])
def test_leaving_it_to_the_shop_is_no_preference(text):
    assert wanted_remedy(text) == NO_PREFERENCE


@pytest.mark.parametrize("text", ["连衣裙开线了", "快递三天没动了", "", "好的"])
def test_no_remedy_words_means_no_remedy(text):
    assert wanted_remedy(text) is None


@pytest.mark.parametrize("text", ["退款或者换货都行", "换货或者退款都可以", "換貨或退款"])
def test_refund_wins_over_exchange_when_both_are_wanted(text):
    # intake.yml lists refund first; the order of the words in the message does not count.
    assert wanted_remedy(text) == "refund"


# =========================================================================== photos_required


@pytest.mark.parametrize("text", ["连衣裙开线了", "", "不好用", "箱子压坏了"])
def test_a_quality_complaint_always_needs_photos(text):
    assert photos_required("quality", text) is True


@pytest.mark.parametrize("text", ["箱子被压坏了", "箱子被壓壞了", "里面的杯子碎了", "外包装破损",
                                  "收到的时候已經變形了"])
def test_goods_damaged_in_transit_need_photos(text):
    assert photos_required("logistics", text) is True


@pytest.mark.parametrize("text", ["快递三天没动了", "物流一直不更新", ""])
def test_a_logistics_complaint_without_damage_needs_no_photos(text):
    assert photos_required("logistics", text) is False


@pytest.mark.parametrize("category", ["service", "return", "transaction"])
@pytest.mark.parametrize("text", ["客服不理人", "箱子压坏了", "箱子被壓壞了", "东西也碎了"])
def test_service_return_and_transaction_complaints_never_need_photos(category, text):
    assert photos_required(category, text) is False


# =========================================================================== cannot_photograph


@pytest.mark.parametrize("text", ["没法拍", "已经扔了", "拍不了", "已經扔了，沒法拍"])
def test_a_stated_reason_for_no_photo_is_recognised(text):
    assert cannot_photograph(text) is True


@pytest.mark.parametrize("text", ["连衣裙开线了", "杯子裂了一道缝，想退款", "好的"])
def test_an_ordinary_complaint_is_no_reason_for_missing_photos(text):
    assert cannot_photograph(text) is False


# =========================================================================== parse_rules


def test_the_shipped_data_parses(rules_data):
    assert parse_rules(rules_data) == intake_rules()


def test_an_unknown_key_is_refused_by_name(rules_data):
    rules_data["photo_words"] = ["照片"]

    with pytest.raises(IntakeConfigError, match="photo_words"):
        parse_rules(rules_data)


@pytest.mark.parametrize("remedy", REMEDIES)
def test_a_missing_remedy_is_refused(rules_data, remedy):
    del rules_data["remedies"][remedy]

    with pytest.raises(IntakeConfigError, match="remedies") as raised:
        parse_rules(rules_data)
    assert remedy in str(raised.value)


def test_an_unknown_remedy_is_refused(rules_data):
    rules_data["remedies"]["voucher"] = ["优惠券"]

    with pytest.raises(IntakeConfigError, match="remedies"):
        parse_rules(rules_data)


@pytest.mark.parametrize("key", ["no_preference", "photos_required_categories",
                                 "transit_damage_words", "cannot_photograph"])
@pytest.mark.parametrize("bad", [[], None, "没法拍", [""], [3]])
def test_an_empty_or_malformed_word_list_is_refused_by_name(rules_data, key, bad):
    rules_data[key] = bad

    with pytest.raises(IntakeConfigError, match=key):
        parse_rules(rules_data)


@pytest.mark.parametrize("bad", [[], None, [""]])
def test_an_empty_word_list_of_a_remedy_is_refused_by_name(rules_data, bad):
    rules_data["remedies"]["repair"] = bad

    with pytest.raises(IntakeConfigError, match="repair"):
        parse_rules(rules_data)


def test_a_missing_word_list_is_refused_by_name(rules_data):
    del rules_data["cannot_photograph"]

    with pytest.raises(IntakeConfigError, match="cannot_photograph"):
        parse_rules(rules_data)


def test_an_unknown_category_is_refused_by_name(rules_data):
    rules_data["photos_required_categories"] = ["quality", "furniture"]

    with pytest.raises(IntakeConfigError, match="photos_required_categories"):
        parse_rules(rules_data)


@pytest.mark.parametrize("data", [None, [], "remedies"])
def test_data_that_is_not_a_mapping_is_refused(data):
    with pytest.raises(IntakeConfigError):
        parse_rules(data)


def test_the_error_names_the_file_it_came_from(rules_data):
    spoiled = copy.deepcopy(rules_data)
    spoiled["transit_damage_words"] = []

    with pytest.raises(IntakeConfigError, match="shop_intake.yml"):
        parse_rules(spoiled, where="shop_intake.yml")


def test_rules_passed_in_are_used_instead_of_the_shipped_ones(rules_data):
    rules_data["cannot_photograph"] = ["不在国内"]
    rules_data["photos_required_categories"] = ["quality", "return"]
    rules = parse_rules(rules_data)

    assert cannot_photograph("人不在国内", rules) is True
    assert cannot_photograph("已经扔了", rules) is False
    assert photos_required("return", "退货不审核", rules) is True


@pytest.mark.parametrize("text,rating", [
    ("5", 5), ("4分", 4), ("１", 1), ("打3分吧", 3), ("非常满意", 5), ("满意", 4),
    ("不满意", 1), ("很不满意！", 1), ("不太满意", 2), ("一般般", 3), ("還行", 3),
])
def test_a_rating_is_read_from_digits_or_words(text, rating):
    assert rating_of(text) == rating


@pytest.mark.parametrize("text", ["随便", "12", "10分", "你好"])
def test_no_rating_is_guessed_from_other_text(text):
    assert rating_of(text) is None
