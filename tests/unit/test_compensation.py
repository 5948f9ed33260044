"""The compensation table (compensation.yml) row by row, on concrete orders."""
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Optional

import opencc
import pytest

from bot.categories import CATEGORIES
from bot.orders.model import TIERS, Order
from bot.policy.compensation import (
    COMPENSATION_FILE,
    LEVELS,
    REFUSED_RETURN,
    REMEDIES,
    SITUATIONS,
    Offer,
    auto_approval_cap,
    compensation_rules,
    load_compensation_rules,
    offers_for,
    promised_price_in,
    situation_of,
    stated_prices,
)
from bot.policy.errors import PolicyConfigError

SHANGHAI = timezone(timedelta(hours=8))
# Delivered 11-18 late in the evening: the seven-day window runs 11-19 … 11-25.
DELIVERED = "2026-11-18T22:40:00+08:00"
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
PROMISED = Decimal("99")


def make_order(amount: str = "129.00", tier: str = "regular", items: Optional[list] = None,
               status: str = "delivered") -> Order:
    items = items or [{"sku": "BWB-500", "name": "不锈钢保温杯 500ml", "price": amount,
                       "quantity": 1, "returnable": True}]
    return Order.from_dict({
        "order_id": "4883690060267735468", "shopper_id": "shopper-1", "tier": tier,
        "status": status, "amount": amount, "items": items,
        "carrier": "顺丰", "tracking_no": "SF3874526859693",
        "paid_at": "2026-11-15T20:31:00+08:00",
        "shipped_at": "2026-11-16T10:12:00+08:00" if status in ("shipped", "delivered") else None,
        "delivered_at": DELIVERED if status == "delivered" else None,
    })


def first_offer(situation: str, tier: str, severity: int, amount: str = "129.00") -> Offer:
    return offers_for(situation, make_order(amount, tier), severity=severity,
                      promised_price=PROMISED, now=NOW)[0]


# ------------------------------------------------------------- the table, every row

# The first offer on a ¥129 order, for a regular shopper and for a loyal one (growth and
# dormant shoppers get the regular row): code, remedy, refund, coupon, warranty months,
# who pays shipping, and the shipping words the shopper reads.
BOTH_WAYS, RESHIP, NO_SHIPPING = "来回运费我们承担", "补发运费我们承担", None
FIRST = {
    "quality_severe": {
        "regular": ("full_refund_coupon", "refund", "129.00", "25.80", 0, "both_ways", BOTH_WAYS),
        "loyal": ("full_refund_coupon", "refund", "129.00", "25.80", 0, "both_ways", BOTH_WAYS),
    },
    "quality_minor": {
        "regular": ("coupon", "compensation", "0.00", "19.35", 0, "none", NO_SHIPPING),
        # money back before a coupon
        "loyal": ("partial_refund", "refund", "12.90", "0.00", 0, "none", NO_SHIPPING),
    },
    "wrong_item": {
        "regular": ("reship", "exchange", "0.00", "0.00", 0, "both_ways", BOTH_WAYS),
        "loyal": ("reship", "exchange", "0.00", "10.00", 0, "both_ways", BOTH_WAYS),
    },
    "missing_item": {
        "regular": ("reship", "exchange", "0.00", "0.00", 0, "reship", RESHIP),
        "loyal": ("reship", "exchange", "0.00", "10.00", 0, "reship", RESHIP),
    },
    "lost": {
        "regular": ("trace_then_reship", "exchange", "0.00", "0.00", 0, "reship", RESHIP),
        # no waiting for the carrier's trace
        "loyal": ("reship", "exchange", "0.00", "0.00", 0, "reship", RESHIP),
    },
    "late": {
        "regular": ("late_coupon", "compensation", "0.00", "10.00", 0, "none", NO_SHIPPING),
        "loyal": ("late_coupon", "compensation", "0.00", "20.00", 0, "none", NO_SHIPPING),
    },
    "late_repeated": {
        "regular": ("late_guarantee", "compensation", "0.00", "10.00", 0, "none", NO_SHIPPING),
        "loyal": ("late_guarantee", "compensation", "0.00", "20.00", 0, "none", NO_SHIPPING),
    },
    "transit_damage": {
        "regular": ("reship", "exchange", "0.00", "0.00", 0, "reship", RESHIP),
        "loyal": ("reship", "exchange", "0.00", "10.00", 0, "reship", RESHIP),
    },
    "price_difference": {
        "regular": ("refund_difference", "refund", "30.00", "0.00", 0, "none", NO_SHIPPING),
        "loyal": ("refund_difference", "refund", "30.00", "0.00", 0, "none", NO_SHIPPING),
    },
    "missing_gift": {
        "regular": ("send_gift", "exchange", "0.00", "0.00", 0, "reship", RESHIP),
        "loyal": ("send_gift", "exchange", "0.00", "0.00", 0, "reship", RESHIP),
    },
    "service": {
        "regular": ("service_coupon", "compensation", "0.00", "15.00", 0, "none", NO_SHIPPING),
        "loyal": ("service_coupon", "compensation", "0.00", "30.00", 0, "none", NO_SHIPPING),
    },
    "no_reason_return": {
        "regular": ("no_reason_return", "refund", "129.00", "0.00", 0, "none", "退货运费由您承担"),
        "loyal": ("no_reason_return", "refund", "129.00", "0.00", 0, "none", "退货运费由您承担"),
    },
}
SEVERITIES = {"quality_severe": (1, 2), "quality_minor": (3,)}

ROWS = [(situation, tier, severity)
        for situation in SITUATIONS for tier in TIERS
        for severity in SEVERITIES.get(situation, LEVELS)]


def test_the_expected_table_covers_every_situation_and_level_of_the_file():
    rules = compensation_rules()
    assert set(FIRST) == set(SITUATIONS) == set(rules.situations)
    for situation, table in rules.situations.items():
        assert table.severities == SEVERITIES.get(situation, LEVELS), situation


@pytest.mark.parametrize("situation,tier,severity", ROWS)
def test_every_row_of_the_table_gives_its_first_offer(situation, tier, severity):
    code, remedy, refund, coupon, warranty, shipping, shipping_words = \
        FIRST[situation]["loyal" if tier == "loyal" else "regular"]
    offer = first_offer(situation, tier, severity)
    assert (offer.code, offer.remedy) == (code, remedy)
    assert (offer.refund, offer.coupon) == (Decimal(refund), Decimal(coupon))
    assert offer.warranty_months == warranty
    assert offer.shop_pays_shipping == shipping
    if shipping_words:
        assert shipping_words in offer.text
    else:
        assert "运费我们承担" not in offer.text
    # every amount given is shown to the shopper, with two decimals
    for amount in (offer.refund, offer.coupon):
        if amount:
            assert f"¥{amount}" in offer.text
    assert "{" not in offer.text and "}" not in offer.text
    # a ¥129 offer is within the cap; at severity 1 a person decides every offer
    assert offer.needs_approval == (severity == 1)


# Every offer, in order, for a regular and a loyal shopper at severity 2 (3 for minor).
LISTS = {
    "quality_severe": (["full_refund_coupon", "exchange_warranty"],
                       ["full_refund_coupon", "exchange_warranty"]),
    "quality_minor": (["coupon", "partial_refund"], ["partial_refund", "coupon"]),
    "wrong_item": (["reship", "refund"], ["reship", "refund"]),
    "missing_item": (["reship", "refund"], ["reship", "refund"]),
    "lost": (["trace_then_reship", "refund"], ["reship", "refund"]),
    "late": (["late_coupon"], ["late_coupon"]),
    "late_repeated": (["late_guarantee"], ["late_guarantee"]),
    "transit_damage": (["reship", "refund"], ["reship", "refund"]),
    "price_difference": (["refund_difference"], ["refund_difference"]),
    "missing_gift": (["send_gift"], ["send_gift"]),
    "service": (["service_coupon"], ["service_coupon"]),
    "no_reason_return": (["no_reason_return"], ["no_reason_return"]),
}


@pytest.mark.parametrize("situation", SITUATIONS)
def test_offers_come_best_first_for_regular_and_loyal_shoppers(situation):
    severity = SEVERITIES.get(situation, LEVELS)[-1]
    regular, loyal = LISTS[situation]
    for tier, expected in (("regular", regular), ("growth", regular), ("dormant", regular),
                           ("loyal", loyal)):
        offers = offers_for(situation, make_order(tier=tier), severity=severity,
                            promised_price=PROMISED, now=NOW)
        assert [o.code for o in offers] == expected, tier


def test_severe_quality_at_level_1_takes_the_refund_path_only():
    offers = offers_for("quality_severe", make_order(tier="loyal"), severity=1)
    assert [o.code for o in offers] == ["full_refund_coupon"]
    assert all(o.needs_approval for o in offers)


def test_the_severe_quality_offer_reads_with_amounts_filled_in():
    offers = offers_for("quality_severe", make_order("129.00"), severity=2)
    assert offers[0].text == "全额退款 ¥129.00 + 20% 优惠券 ¥25.80，来回运费我们承担"
    assert offers[1].text == "免费换新 + 延长保修 12 个月，来回运费我们承担"
    assert offers[1].warranty_months == 12 and offers[1].remedy == "exchange"


def test_a_loyal_shopper_gets_an_extra_coupon_on_the_exchange():
    loyal = offers_for("quality_severe", make_order("129.00", "loyal"), severity=2)[1]
    assert loyal.coupon == Decimal("12.90")
    assert loyal.text.endswith("另送您一张 ¥12.90 优惠券")


def test_the_late_delivery_guarantee_names_its_months():
    offer = offers_for("late_repeated", make_order(), severity=3)[0]
    assert "超时必赔" in offer.text and "3 个月" in offer.text


def test_the_service_offer_names_a_dedicated_agent():
    assert "专属客服" in offers_for("service", make_order(), severity=3)[0].text


def test_amounts_round_half_up_to_the_cent():
    # 20% of ¥99.99 is 19.998 → ¥20.00; 15% of ¥0.30 is 0.045 → ¥0.05
    assert first_offer("quality_severe", "regular", 2, "99.99").coupon == Decimal("20.00")
    assert first_offer("quality_minor", "regular", 3, "0.30").coupon == Decimal("0.05")


def test_an_offer_is_json_safe_with_amounts_as_text():
    offer = offers_for("quality_severe", make_order("129.00"), severity=2)[0]
    data = json.loads(json.dumps(offer.to_dict(), ensure_ascii=False))
    assert data == {
        "code": "full_refund_coupon", "remedy": "refund", "refund": "129.00", "coupon": "25.80",
        "warranty_months": 0, "shop_pays_shipping": "both_ways",
        "text": "全额退款 ¥129.00 + 20% 优惠券 ¥25.80，来回运费我们承担",
        "cost": "129.00", "needs_approval": False,
    }


def test_offer_remedies_are_the_case_vocabulary():
    import bot.intake
    assert REMEDIES == tuple(bot.intake.REMEDIES)
    assert {spec.remedy for spec in compensation_rules().offers.values()} <= set(REMEDIES)


# ------------------------------------------------------------------ approval cap

@pytest.mark.parametrize("amount,cap", [("129.00", "129.00"), ("200.00", "200.00"),
                                        ("899.00", "200.00"), ("0.50", "0.50")])
def test_the_cap_is_200_or_the_order_value_whichever_is_lower(amount, cap):
    assert auto_approval_cap(make_order(amount)) == Decimal(cap)


APPROVALS = [
    # situation, severity, tier, order amount, offer position, cost, needs a person
    # a full refund counts the order value; its policy coupon does not count on top
    ("quality_severe", 2, "regular", "899.00", 0, "899.00", True),
    ("quality_severe", 2, "regular", "129.00", 0, "129.00", False),
    ("quality_severe", 2, "regular", "199.00", 0, "199.00", False),
    ("quality_severe", 2, "regular", "200.01", 0, "200.01", True),
    # sending the goods the shopper paid for costs nothing against the cap
    ("quality_severe", 2, "regular", "899.00", 1, "0.00", False),
    ("quality_severe", 2, "loyal", "899.00", 1, "89.90", False),
    ("quality_severe", 2, "loyal", "2500.00", 1, "250.00", True),
    ("quality_minor", 3, "regular", "899.00", 0, "134.85", False),
    ("quality_minor", 3, "regular", "2000.00", 0, "300.00", True),
    ("quality_minor", 3, "loyal", "2500.00", 0, "250.00", True),
    ("wrong_item", 2, "regular", "899.00", 0, "0.00", False),
    ("wrong_item", 2, "regular", "899.00", 1, "899.00", True),
    ("lost", 2, "regular", "899.00", 0, "0.00", False),
    ("lost", 2, "regular", "899.00", 1, "899.00", True),
    ("late", 3, "regular", "5.00", 0, "10.00", True),   # a ¥10 coupon on a ¥5 order
    ("late", 3, "regular", "129.00", 0, "10.00", False),
    # a seven-day return is the shopper's right: nothing to approve
    ("no_reason_return", 3, "regular", "899.00", 0, "0.00", False),
]


@pytest.mark.parametrize("situation,severity,tier,amount,position,cost,needs", APPROVALS)
def test_an_offer_above_the_cap_needs_a_person(situation, severity, tier, amount, position, cost, needs):
    offer = offers_for(situation, make_order(amount, tier), severity=severity, now=NOW)[position]
    assert offer.cost == Decimal(cost)
    assert offer.needs_approval is needs


def test_a_large_price_difference_needs_a_person():
    offer = offers_for("price_difference", make_order("899.00"), severity=3,
                       promised_price=Decimal("600"))[0]
    assert offer.refund == offer.cost == Decimal("299.00") and offer.needs_approval


# --------------------------------------------------------------- price difference

def test_the_price_difference_is_per_unit_times_quantity():
    order = make_order("258.00", items=[{"sku": "K", "name": "面霜", "price": "129.00",
                                         "quantity": 2, "returnable": True}])
    offer = offers_for("price_difference", order, severity=3, promised_price=Decimal("99"))[0]
    assert offer.refund == Decimal("60.00")
    assert offer.text == "按直播间说好的 ¥99.00 算，给您退差价 ¥60.00，原路退回"
    assert not offer.needs_approval


def test_the_promised_price_can_come_from_the_shoppers_words():
    offer = offers_for("price_difference", make_order(), severity=3,
                       text="直播間主播說好的99塊，結果扣了我129")[0]
    assert offer.refund == Decimal("30.00") and not offer.needs_approval


@pytest.mark.parametrize("promised,text", [
    (None, None),
    (None, "价格不对啊"),
    (Decimal("150"), None),     # the promise does not explain the price paid
])
def test_an_unknown_promise_goes_to_a_person_who_checks_the_live_room(promised, text):
    offers = offers_for("price_difference", make_order(), severity=3, promised_price=promised, text=text)
    assert len(offers) == 1
    offer = offers[0]
    assert offer.code == "refund_difference" and offer.needs_approval
    assert offer.refund == Decimal("0.00")
    assert "人工核对直播间记录" in offer.text


def test_a_promise_below_several_items_is_ambiguous():
    order = make_order("488.00", items=[
        {"sku": "Y", "name": "羊毛衫", "price": "399.00", "quantity": 1, "returnable": True},
        {"sku": "W", "name": "围巾", "price": "89.00", "quantity": 1, "returnable": True}])
    assert offers_for("price_difference", order, severity=3, promised_price=Decimal("59"))[0].needs_approval
    one = offers_for("price_difference", order, severity=3, promised_price=Decimal("359"))[0]
    assert one.refund == Decimal("40.00") and not one.needs_approval


@pytest.mark.parametrize("text,prices", [
    ("说好的99，结果扣了129", ("99.00", "129.00")),
    ("說好的價格是99，怎麼扣了129", ("99.00", "129.00")),
    ("直播间￥59.9，到手却是79元", ("59.90", "79.00")),
    ("主播说29块9", ("29.90",)),
    ("才3天就坏了，订单号4883690060267735468", ()),
    ("说好的3号发货", ()),
    ("１９９元", ("199.00",)),
    ("优惠券没用上，多付了20块", ()),  # what was overpaid, not a price
    ("说好的99，结果贵了30", ("99.00",)),
])
def test_stated_prices(text, prices):
    assert stated_prices(text) == tuple(Decimal(p) for p in prices)


def test_an_overpaid_amount_is_refunded_as_such_not_read_as_the_promised_price():
    order = make_order("88.00")
    # Read as a price, 20 made the refund 88 - 20 = 68.
    assert promised_price_in("优惠券没用上，多付了20块", order) == Decimal("68.00")
    offer = offers_for("price_difference", order, severity=3,
                       promised_price=promised_price_in("优惠券没用上，多付了20块", order))[0]
    assert offer.refund == Decimal("20.00")
    assert promised_price_in("多扣了30", order) == Decimal("58.00")
    two_items = make_order("188.00", items=[
        {"sku": "A", "name": "杯子", "price": "88.00", "quantity": 1, "returnable": True},
        {"sku": "B", "name": "杯盖", "price": "100.00", "quantity": 1, "returnable": True}])
    assert promised_price_in("多付了20块", two_items) is None  # of which item? a person checks


def test_the_promised_price_is_the_stated_price_below_what_was_paid():
    order = make_order()
    assert promised_price_in("说好的99，结果扣了129", order) == Decimal("99.00")
    assert promised_price_in("扣了129", order) is None
    assert promised_price_in("说好的99，朋友买才89", order) is None


# --------------------------------------------------------------- seven-day return

def test_a_return_inside_the_window_is_offered_with_its_steps():
    offer = offers_for("no_reason_return", make_order(), severity=3,
                       now=datetime(2026, 11, 25, 23, 0, tzinfo=SHANGHAI))[0]
    assert offer.code == "no_reason_return" and offer.refund == Decimal("129.00")
    assert "收到退货后7天内退款" in offer.text and "11月25日" in offer.text


def test_a_refused_return_explains_and_offers_what_remains():
    # 16:30 UTC on 11-25 is 00:30 on 11-26 in Shanghai: day 8
    offers = offers_for("no_reason_return", make_order(), severity=3,
                        now=datetime(2026, 11, 25, 16, 30, tzinfo=timezone.utc))
    assert [o.code for o in offers] == [REFUSED_RETURN]
    assert offers[0].refund == 0 and not offers[0].needs_approval
    assert "质量问题" in offers[0].text and "转人工" in offers[0].text


def test_a_return_before_delivery_is_refused():
    offer = offers_for("no_reason_return", make_order(status="shipped"), severity=3, now=NOW)[0]
    assert offer.code == REFUSED_RETURN and "拒收" in offer.text


# ------------------------------------------------------------------ wrong input

def test_wrong_arguments_say_what_is_wrong():
    order = make_order()
    with pytest.raises(ValueError, match="unknown situation"):
        offers_for("broken", order, severity=2)
    with pytest.raises(ValueError, match="severity"):
        offers_for("quality_minor", order, severity=1)
    with pytest.raises(ValueError, match="unknown tier"):
        offers_for("late", order, severity=3, tier="vip")
    with pytest.raises(ValueError, match="timezone-aware"):
        offers_for("no_reason_return", order, severity=3, now=datetime(2026, 11, 20))
    with pytest.raises(ValueError, match="unknown complaint category"):
        situation_of("delivery", 2, "慢")
    with pytest.raises(ValueError, match="severity"):
        situation_of("quality", 4, "坏了")


# ------------------------------------------------------------------ situation_of

class Delivered:
    status = "delivered"


SITUATION_EXAMPLES = [
    # category, severity, shopper's words (Simplified), situation
    ("quality", 2, "你们发错货了，我买的是黑色的", "wrong_item"),
    ("return", 2, "这不是我买的东西", "wrong_item"),
    ("logistics", 2, "打开一看少了一个杯子", "missing_item"),
    ("quality", 2, "缺件，螺丝没有", "missing_item"),
    ("logistics", 2, "商家漏发了一件", "missing_item"),
    ("logistics", 2, "快递把我的包裹丢了", "lost"),
    ("logistics", 2, "丢件了怎么办", "lost"),
    ("logistics", 2, "显示签收了但我根本没收到", "lost"),
    ("logistics", 2, "盒子压坏了，杯子也碎了", "transit_damage"),
    ("quality", 2, "杯子碎了", "quality_severe"),   # the same words in quality: a defect
    ("logistics", 3, "又晚了，每次都这么慢", "late_repeated"),
    ("logistics", 3, "快递怎么还没到", "late"),
    ("logistics", 2, "物流三天没更新了", "late"),
    ("transaction", 3, "赠品没收到", "missing_gift"),
    ("logistics", 3, "说好送的赠品呢", "missing_gift"),
    ("transaction", 3, "说好的价格是99，怎么扣了129", "price_difference"),
    ("transaction", 3, "直播间说的价格不对", "price_difference"),
    ("transaction", 2, "扣了两次钱", "price_difference"),
    ("return", 3, "不想要了，七天无理由退货", "no_reason_return"),
    ("return", 3, "没有质量问题，就是不喜欢", "no_reason_return"),
    ("return", 3, "衣服开线了想退货", "quality_minor"),
    ("return", 2, "用了一次就坏了，要退货", "quality_severe"),
    ("return", 3, "退款还没到账", "service"),
    ("quality", 3, "口红壳有点划痕", "quality_minor"),
    ("quality", 1, "充电宝冒烟了", "quality_severe"),
    ("quality", 2, "是假货", "quality_severe"),
    ("service", 3, "客服态度太差了", "service"),
    ("service", 3, "你们发错了客服还不理人", "service"),   # a service complaint stays one
]
_S2T = opencc.OpenCC("s2t")


@pytest.mark.parametrize("category,severity,text,situation", SITUATION_EXAMPLES)
def test_situation_of_in_simplified_and_traditional(category, severity, text, situation):
    traditional = _S2T.convert(text)
    assert situation_of(category, severity, text) == situation
    assert situation_of(category, severity, traditional) == situation, traditional


@pytest.mark.parametrize("text,situation", [
    ("你們發錯貨了", "wrong_item"), ("少了一個", "missing_item"), ("快遞丟件了", "lost"),
    ("盒子壓壞了", "transit_damage"), ("又晚了，每次都慢", "late_repeated"),
])
def test_situation_of_handwritten_traditional(text, situation):
    assert situation_of("logistics", 2, text) == situation


def test_a_delivered_order_the_shopper_never_received_is_lost_not_late():
    assert situation_of("logistics", 2, "我还没收到啊", Delivered()) == "lost"
    assert situation_of("logistics", 2, "我还没收到啊") == "late"


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("severity", LEVELS)
def test_every_category_and_level_has_a_situation_offered_at_that_level(category, severity):
    situation = situation_of(category, severity, "嗯")
    assert severity in compensation_rules().situations[situation].severities
    assert offers_for(situation, make_order(), severity=severity, promised_price=PROMISED, now=NOW)


# ------------------------------------------------------------------- shop edits

def write_table(tmp_path: Path, old: str, new: str) -> Path:
    text = COMPENSATION_FILE.read_text(encoding="utf-8")
    assert text.count(old) >= 1, old
    path = tmp_path / "compensation.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_shop_can_raise_the_cap(tmp_path):
    rules = load_compensation_rules(write_table(tmp_path, "  cap: 200", "  cap: 1000"))
    order = make_order("899.00")
    assert auto_approval_cap(order, rules=rules) == Decimal("899.00")
    assert not offers_for("quality_severe", order, severity=2, rules=rules)[0].needs_approval


def test_a_shop_can_change_the_coupon_rate(tmp_path):
    rules = load_compensation_rules(write_table(tmp_path, "coupon_rate: 0.20", "coupon_rate: 0.3"))
    offer = offers_for("quality_severe", make_order(), severity=2, rules=rules)[0]
    assert offer.coupon == Decimal("38.70") and "30% 优惠券 ¥38.70" in offer.text


def test_a_shop_can_give_another_tier_its_own_list(tmp_path):
    rules = load_compensation_rules(write_table(
        tmp_path, "      default: [late_coupon]\n",
        "      default: [late_coupon]\n      dormant:\n        - late_coupon: {coupon_amount: 30}\n"))
    assert offers_for("late", make_order(tier="dormant"), severity=3, rules=rules)[0].coupon == 30
    assert offers_for("late", make_order(tier="growth"), severity=3, rules=rules)[0].coupon == 10


def test_the_shipped_file_loads():
    rules = load_compensation_rules(COMPENSATION_FILE)
    assert rules.cap == Decimal("200.00") and rules.returns.window_days == 7


def line_in(path: Path, fragment: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if fragment in line:
            return number
    raise AssertionError(fragment)


BAD_FILES = [
    # (replace this, with this, the key the message names, what it says, the line it points at)
    ("extra_coupon_phrase:", "extra_coupon_phrse:", "extra_coupon_phrse", "unknown key",
     "extra_coupon_phrse:"),
    ("    coupon_rate: 0.20\n", "    coupon_rat: 0.20\n", "offers.full_refund_coupon.coupon_rat",
     "unknown key", "coupon_rat: 0.20"),
    ("  missing_gift:\n    offers:\n      default: [send_gift]\n", "", "situations",
     "missing key 'missing_gift'", "situations:"),
    ("  missing_gift:\n    offers:", "  missing_gifts:\n    offers:", "situations.missing_gifts",
     "unknown key", "missing_gifts:"),
    ("  cap: 200", "  cap: 0", "auto_approval.cap", "more than 0", "cap: 0"),
    ("  cap: 200", "  cap: -50", "auto_approval.cap", "more than 0", "cap: -50"),
    ("  cap: 200", "  cap: 19.999", "auto_approval.cap", "at most 2 decimals", "cap: 19.999"),
    ("    coupon_amount: 15\n", "    coupon_amount: -15\n", "offers.service_coupon.coupon_amount",
     "more than 0", "coupon_amount: -15"),
    ("coupon_rate: 0.20", "coupon_rate: 20", "offers.full_refund_coupon.coupon_rate",
     "at most 1", "coupon_rate: 20"),
    ("refund_rate: 0.10", "refund_rate: 0", "offers.partial_refund.refund_rate",
     "more than 0", "refund_rate: 0"),
    ("      loyal: [partial_refund, coupon]", "      vip: [partial_refund, coupon]",
     "situations.quality_minor.offers.vip", "unknown key 'vip'", "vip: [partial_refund"),
    ("      default: [send_gift]", "      default: [send_gifts]",
     "situations.missing_gift.offers.default[0]", "unknown offer 'send_gifts'", "[send_gifts]"),
    ("        - late_coupon: {coupon_amount: 20}", "        - late_coupon: {coupon_amount: -20}",
     "situations.late.offers.loyal[0].late_coupon.coupon_amount", "more than 0",
     "{coupon_amount: -20}"),
    ("        - late_coupon: {coupon_amount: 20}", "        - late_coupon: {coupon_amont: 20}",
     "situations.late.offers.loyal[0].late_coupon.coupon_amont", "unknown key",
     "{coupon_amont: 20}"),
    ("    remedy: compensation\n    coupon_amount: 15", "    remedy: voucher\n    coupon_amount: 15",
     "offers.service_coupon.remedy", "unknown 'voucher'", "remedy: voucher"),
    ("    shipping: both_ways\n    text: \"免费换新", "    shipping: courier\n    text: \"免费换新",
     "offers.exchange_warranty.shipping", "unknown 'courier'", "shipping: courier"),
    ("{trace_hours} 小时", "{trace_hour} 小时", "offers.trace_then_reship.text",
     "unknown placeholder {trace_hour}", "{trace_hour} 小时"),
    ("马上给您补发少的商品，{shipping}", "马上给您补发少的商品", "offers.reship_missing.text",
     "must show {shipping}", "马上给您补发少的商品\""),
    ("    coupon_amount: 15\n", "    coupon_amount: 15\n    coupon_rate: 0.1\n",
     "offers.service_coupon.coupon_amount", "not both", "coupon_amount: 15"),
    ("      1:\n        default: [full_refund_coupon]", "      3:\n        default: [full_refund_coupon]",
     "situations.quality_severe.at_severity.3", "not one of this situation's severities", "      3:"),
    ("{1: quality_severe, 2: quality_severe, 3: quality_minor}",
     "{1: quality_minor, 2: quality_severe, 3: quality_minor}",
     "by_severity.1", "not offered at severity 1", "{1: quality_minor"),
    ("    - situation: service\n      categories: [service]\n", "", "situation_matching.rules",
     "category 'service'", "  rules:"),
    ("      categories: [logistics]\n      order_status", "      categories: [logistic]\n      order_status",
     "situation_matching.rules[5].categories[0]", "unknown 'logistic'", "[logistic]"),
    ("      order_status: [delivered]", "      order_status: [arrived]",
     "situation_matching.rules[5].order_status[0]", "unknown 'arrived'", "[arrived]"),
    ("    - situation: late\n", "    - situation: quality_minor\n",
     "situation_matching.rules[8].situation", "use by_severity", "- situation: quality_minor"),
    ("  window_days: 7", "  window_days: 0", "returns.window_days", "between 1 and 365",
     "window_days: 0"),
    ("  timezone: Asia/Shanghai", "  timezone: Asia/Shangai", "returns.timezone",
     "unknown time zone", "Asia/Shangai"),
    ("退款 {refund}，原路退回。\"\n    some_excluded", "退款 {amount}，原路退回。\"\n    some_excluded",
     "returns.messages.accepted", "unknown placeholder {amount}", "{amount}"),
]


@pytest.mark.parametrize("old,new,key,problem,line_fragment", BAD_FILES)
def test_a_bad_table_names_the_file_the_key_and_the_line(tmp_path, old, new, key, problem, line_fragment):
    path = write_table(tmp_path, old, new)
    with pytest.raises(PolicyConfigError) as error:
        load_compensation_rules(path)
    message = str(error.value)
    assert message.startswith(f"{path}: "), message
    assert key in message and problem in message, message
    assert f"(line {line_in(path, line_fragment)})" in message, message


def test_a_file_that_is_not_yaml_gives_its_line(tmp_path):
    path = write_table(tmp_path, "  cap: 200", "  cap: [200")
    with pytest.raises(PolicyConfigError, match=r"not valid YAML"):
        load_compensation_rules(path)


def test_a_missing_file_is_a_policy_error(tmp_path):
    with pytest.raises(PolicyConfigError, match="cannot read"):
        load_compensation_rules(tmp_path / "nope.yml")
