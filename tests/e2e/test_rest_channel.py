"""The running stack over HTTP: the REST channel, understanding and first replies."""
import pytest
import requests

from bot.categories import CATEGORIES
from bot.replies.acknowledgement import reply_book
from tests.e2e.stack import new_sender, texts

COMPLAINTS = {
    "quality": ("新买的吹风机用了一次就坏了，根本吹不出热风", "新買的吹風機用了一次就壞了，根本吹不出熱風"),
    "logistics": ("付款五天了物流信息一直没更新", "付款五天了物流資訊一直沒更新"),
    "service": ("客服回复全是复制粘贴，问什么都敷衍", "客服回覆全是複製貼上，問什麼都敷衍"),
    "return": ("裤子太短了，我想退货怎么操作", "褲子太短了，我想退貨怎麼操作"),
    "transaction": ("主播说的券后价九十九，我付了一百二十九", "主播說的券後價九十九，我付了一百二十九"),
}


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_gets_its_own_reply_in_simplified_and_traditional(stack, category):
    next_step = reply_book().categories[category].next_step
    for text in COMPLAINTS[category]:
        replies = stack.say(text)
        assert next_step in replies[0]["text"], (text, replies)
        # Then the complaint form asks what it needs first: the order number.
        assert "订单号" in replies[-1]["text"] and "19位" in replies[-1]["text"], replies


def test_greeting_is_answered_in_chinese(stack):
    replies = stack.say("你好呀")
    assert replies and "售后" in replies[0]["text"]


def test_unclear_message_offers_the_five_categories_as_buttons(stack):
    replies = stack.say("qwxz zzkj")
    buttons = replies[0].get("buttons", [])
    assert [b["payload"] for b in buttons] == [f"/complain_{c}" for c in CATEGORIES]


def test_a_button_click_continues_the_conversation(stack):
    sender = new_sender()
    stack.say("qwxz zzkj", sender)
    replies = stack.say("/complain_logistics", sender)
    assert reply_book().categories["logistics"].next_step in replies[0]["text"]


def test_the_tracker_keeps_the_shoppers_original_words(stack):
    sender = new_sender()
    original = "快遞員態度超差！！！包裹直接扔門口😡😡"
    stack.say(original, sender)
    tracker = stack.tracker(sender)
    user_events = [e for e in tracker["events"] if e["event"] == "user"]
    assert user_events[-1]["text"] == original
    assert user_events[-1]["parse_data"]["intent"]["name"] == "complain_logistics"


def test_conversations_api_needs_the_token(stack):
    response = requests.get(f"{stack.base}/conversations/anyone/tracker", timeout=30)
    assert response.status_code == 401


def test_a_5mb_message_gets_a_clear_reply_and_loses_nothing(stack):
    sender = new_sender()
    stack.say("连衣裙开线了", sender)
    replies = stack.say("快递太慢了" * 1_000_000, sender)  # 5,000,000 characters
    assert "太长" in texts(replies) and "2000" in texts(replies)
    # The conversation goes on where it was: the form still wants the order number.
    assert "订单号" in texts(stack.say("好的", sender))
    user_texts = [e["text"] for e in stack.tracker(sender)["events"] if e["event"] == "user"]
    assert user_texts == ["连衣裙开线了", "好的"]


@pytest.mark.parametrize("body,reason", [
    ("{not json", "JSON"),
    ('["a list"]', "object"),
    ('{"message": "你好"}', "sender"),
    ('{"sender": "", "message": "你好"}', "sender"),
    ('{"sender": "s1", "message": 42}', "message"),
    ('{"sender": "s1", "message": ""}', "empty"),
    ('{"sender": "s1", "message": "hi", "metadata": "photo"}', "metadata"),
    ('{"sender": "s1", "message": "hi", "metadata": {"attachments": "x"}}', "attachments"),
])
def test_malformed_requests_are_refused_with_the_reason(stack, body, reason):
    response = requests.post(f"{stack.base}/webhooks/rest/webhook", data=body.encode(),
                             headers={"Content-Type": "application/json"}, timeout=30)
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert stack.say("你好")
