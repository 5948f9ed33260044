"""People's names in what leaves a conversation (logs, public replies, the trainer's
export): masked after the cues shoppers use, while ordinary sentences that begin the same
way keep their meaning."""
from __future__ import annotations

import pytest

from bot.liveroom.masking import mask as liveroom_mask
from bot.masking import MASK, mask


@pytest.mark.parametrize("text, masked", [
    ("我叫张伟", "我叫***"),
    ("我叫李大壮。", "我叫***。"),
    ("你好，我是李娜，订单有问题", "你好，我是***，订单有问题"),
    ("我是王强我的订单有问题", "我是***我的订单有问题"),
    ("本人是陈静", "本人是***"),
    ("收件人：王小明，电话不对", "收件人：***，电话不对"),
    ("收件人张三的电话不对", "收件人***的电话不对"),
    ("收件人是王大锤", "收件人是***"),
    ("收貨人陳大文", "收貨人***"),
    ("姓名 司马光", "姓名 ***"),
    ("名字叫小红", "名字叫***"),
    ("联系人小王", "联系人***"),
    ("王先生您好", "*先生您好"),
    ("请转告欧阳女士", "请转告*女士"),
    ("刘小姐下的单", "*小姐下的单"),
])
def test_names_after_a_cue_or_before_a_title_are_masked(text, masked):
    assert mask(text) == masked


@pytest.mark.parametrize("text", [
    "我是来投诉的", "我是來投訴的", "我是会员", "我是江西人", "我是杭州的", "我是高中生",
    "我是程序员", "我是金卡会员", "我是说质量不好", "我是大客户", "我叫了快递", "我叫他们退款",
    "收货人写错了", "联系人是谁啊", "收件人是我老婆", "这位先生", "我先生说的", "客服小姐姐",
])
def test_sentences_that_only_look_like_a_name_are_left_alone(text):
    assert mask(text) == text


def test_names_are_masked_together_with_numbers_and_addresses():
    text = "收货人李四，杭州市西湖区文三路88号，13812345678"
    assert mask(text) == f"收货人{MASK}，{MASK}，{MASK}"


def test_the_live_room_masks_with_the_same_function():
    assert liveroom_mask is mask
