import re

import pytest

from bot.categories import CATEGORIES, category_of_intent
from bot.replies.acknowledgement import ReplyConfigError, acknowledge, parse_reply_book, reply_book


@pytest.mark.parametrize("category,expected", [
    ("quality", "处理方案"),
    ("logistics", "快递"),
    ("service", "主管"),
    ("return", "退换货"),
    ("transaction", "金额"),
])
def test_each_category_says_what_happens_next_and_by_when(category, expected):
    reply = acknowledge(category, "有问题").text
    assert expected in reply
    assert "小时内" in reply


def test_a_case_for_a_person_promises_contact_within_the_commitment_instead():
    reply = acknowledge("quality", "充电宝冒烟了", human_within_hours=2).text
    assert "2小时内联系您" in reply
    assert reply_book().categories["quality"].next_step not in reply


def test_the_named_product_and_defect_appear_in_the_empathy():
    reply = acknowledge("quality", "连衣裙开线了", product="连衣裙", defect="开线").text
    assert "连衣裙" in reply and "开线" in reply


@pytest.mark.parametrize("text,situation", [
    ("给孩子买的生日礼物，到手就坏了", "gift"),
    ("宝宝用了过敏起疹子", "health"),
    ("明天要用，快递还没到", "urgent"),
    ("这已经是第二次收到坏的了", "repeat"),
    ("给小孩买的水杯漏水", "child"),
])
def test_the_shoppers_situation_is_recognised_from_their_words(text, situation):
    assert acknowledge("quality", text).situation == situation


def test_a_double_charge_is_not_read_as_a_problem_that_keeps_coming_back():
    reply = acknowledge("transaction", "付款扣了两次钱，订单只有一个")
    assert reply.situation != "repeat" and "反复" not in reply.text


def test_a_plain_complaint_gets_the_category_empathy():
    assert acknowledge("quality", "东西质量不行").situation is None


@pytest.mark.parametrize("text,topic,fits", [
    ("快递员态度很差，直接扔门口", "courier_manner", "快递员|受气"),
    ("箱子都压扁了，杯子碎了", "damaged", "坏"),
    ("显示签收了我根本没收到", "not_received", "签收|包裹"),
    ("快递太慢了", "late", "着急|等|久"),
])
def test_a_logistics_complaint_gets_empathy_for_what_went_wrong(text, topic, fits):
    reply = acknowledge("logistics", text)
    assert reply.situation == topic
    assert re.search(fits, reply.text[:reply.text.index("已收到")])
    # Nothing about waiting for a parcel the courier threw at the door.
    if topic != "late":
        assert "迟迟不到" not in reply.text and "等不到" not in reply.text


def test_different_messages_get_different_wordings_and_the_same_message_the_same():
    texts = [f"快递{n}天了还没到" for n in range(2, 12)]
    replies = {acknowledge("logistics", t).text for t in texts}
    assert len(replies) >= 2
    assert acknowledge("logistics", texts[0]) == acknowledge("logistics", texts[0])


def test_unknown_category_is_refused():
    with pytest.raises(ValueError, match="weather"):
        acknowledge("weather", "今天下雨")


def test_reply_file_missing_a_category_is_reported():
    data = {"situations": {}, "categories": {}, "escalation_notice": "{hours}"}
    with pytest.raises(ReplyConfigError, match="quality"):
        parse_reply_book(data)


def test_shipped_reply_file_covers_every_category():
    assert set(reply_book().categories) == set(CATEGORIES)


def test_intents_map_to_categories():
    assert category_of_intent("complain_return") == "return"
    assert category_of_intent("complain_weather") is None
    assert category_of_intent("greet") is None
    assert category_of_intent(None) is None
