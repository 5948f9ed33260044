"""Offers over HTTP: the best remedy policy allows, with amounts from the order; accept,
decline then accept, decline twice → a person."""
import base64
import io

from PIL import Image

from tests.e2e.stack import texts


def photo():
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 120, 200)).save(buffer, format="PNG")
    return [{"type": "image", "url": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()}]


def only_case(stack, shopper):
    cases = stack.cases(shopper)
    assert len(cases) == 1, cases
    return cases[0]


def test_a_quality_complaint_ends_with_an_accepted_offer_recorded_on_the_case(stack):
    shopper, order = "e2e-shopper-3", "6948310179007151075"  # shoes ¥359 + socks ¥29.90
    stack.say("跑鞋穿了两天鞋底就开胶了，根本没法穿", shopper)
    stack.say(order, shopper)
    stack.say("", shopper, attachments=photo())
    replies = stack.say("退款", shopper)
    # A full refund of ¥388.90 is above the bot's cap (¥200): it says so and offers what
    # it may grant, with the three answers as buttons.
    assert "全额退款 ¥388.90" in texts(replies) and "主管审批" in texts(replies)
    assert "免费换新 + 延长保修 12 个月" in texts(replies)
    assert [b["payload"] for b in replies[-1]["buttons"]] == ["/affirm", "/deny", "/request_human"]
    case = only_case(stack, shopper)
    assert case["status"] == "open"
    assert [o["code"] for o in case["compensation"]["offers"]] == ["exchange_warranty"]

    replies = stack.say("/affirm", shopper)
    case = only_case(stack, shopper)
    assert case["status"] == "resolved" and case["remedy"] == "exchange"
    assert case["compensation"]["accepted"]["code"] == "exchange_warranty"
    assert case["compensation"]["accepted"]["warranty_months"] == 12
    assert case["id"] in texts(replies) and "前发出" in texts(replies)
    assert case["followup"]["state"] == "scheduled" and case["followup"]["due_at"]


def test_declined_once_the_next_option_is_offered_and_accepted_in_words(stack):
    shopper, order = "demo-xiaolin", "6901012393320946276"  # a ¥88 box of kiwis
    stack.say("猕猴桃个头太小了，和直播间说的差很多，质量一般", shopper)
    stack.say(order, shopper)
    stack.say("", shopper, attachments=photo())
    first = stack.say("补偿", shopper)
    assert "优惠券 ¥13.20" in texts(first)  # 15% of ¥88, the item kept
    second = stack.say("不要这个", shopper)
    assert "换一个方案" in texts(second) and "¥8.80" in texts(second)  # 10% back
    replies = stack.say("好的，可以", shopper)
    case = only_case(stack, shopper)
    assert case["status"] == "resolved"
    assert case["compensation"]["declined"] == [case["compensation"]["offers"][0]["code"]]
    assert case["compensation"]["accepted"]["code"] == case["compensation"]["offers"][1]["code"]
    assert "已处理完成" in texts(replies)


def test_declining_twice_reaches_a_person(stack):
    shopper, order = "demo-tingting", "6919956087008139766"  # a ¥138 T-shirt
    stack.say("T恤有几处小线头，质量一般", shopper)
    stack.say(order, shopper)
    stack.say("", shopper, attachments=photo())
    stack.say("补偿", shopper)
    stack.say("/deny", shopper)
    replies = stack.say("/deny", shopper)
    case = only_case(stack, shopper)
    assert case["status"] == "escalated" and case["needs_human"] is True
    assert case["needs_human_reason"] == "declined_twice"
    assert "人工客服" in texts(replies) and case["id"] in texts(replies)
