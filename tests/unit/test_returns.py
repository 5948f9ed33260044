"""The seven-day no-reason return (七天无理由): the window, exclusions, faults, wording."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Optional

import pytest

from bot.orders.model import Order
from bot.policy.compensation import COMPENSATION_FILE, load_compensation_rules
from bot.policy.returns import ReturnDecision, last_day_to_return, no_reason_return

SHANGHAI = timezone(timedelta(hours=8))
CUP = {"sku": "BWB-500", "name": "不锈钢保温杯 500ml", "price": "129.00", "quantity": 1, "returnable": True}
ENGRAVED = {"sku": "KZ-01", "name": "定制刻字钢笔", "price": "89.00", "quantity": 1, "returnable": False}
ALTERNATIVES = ("质量问题", "免费退换", "维修", "保修", "转人工")


def make_order(status: str = "delivered", delivered: Optional[str] = "2026-11-18T22:45:00+08:00",
               items: Optional[list] = None) -> Order:
    items = items or [CUP]
    return Order.from_dict({
        "order_id": "4883690060267735468", "shopper_id": "shopper-1", "tier": "regular",
        "status": status,
        "amount": str(sum(Decimal(str(i["price"])) * i["quantity"] for i in items)),
        "items": items, "carrier": "顺丰", "tracking_no": "SF3874526859693",
        "paid_at": "2026-11-15T20:31:00+08:00" if status != "cancelled" else None,
        "shipped_at": "2026-11-16T10:12:00+08:00" if status in ("shipped", "delivered", "refunded") else None,
        "delivered_at": delivered if status in ("delivered", "refunded") else None,
    })


# ------------------------------------------------------------------ the window

WINDOW = [
    # delivered at (any offset), today in Shanghai, eligible, last day
    # late in the evening: the day of delivery is day 0, day 1 is 11-19
    ("2026-11-18T22:45:00+08:00", date(2026, 11, 18), True, date(2026, 11, 25)),
    ("2026-11-18T22:45:00+08:00", date(2026, 11, 19), True, date(2026, 11, 25)),
    ("2026-11-18T22:45:00+08:00", date(2026, 11, 25), True, date(2026, 11, 25)),   # day 7
    ("2026-11-18T22:45:00+08:00", date(2026, 11, 26), False, date(2026, 11, 25)),  # day 8
    ("2026-11-18T23:59:59+08:00", date(2026, 11, 25), True, date(2026, 11, 25)),
    ("2026-11-18T00:00:00+08:00", date(2026, 11, 26), False, date(2026, 11, 25)),
    # 16:30 UTC on 11-18 is 00:30 on 11-19 in Shanghai: delivered on the 19th
    ("2026-11-18T16:30:00+00:00", date(2026, 11, 26), True, date(2026, 11, 26)),
    ("2026-11-18T16:30:00+00:00", date(2026, 11, 27), False, date(2026, 11, 26)),
    # 15:59 UTC is still 11-18 in Shanghai
    ("2026-11-18T15:59:00Z", date(2026, 11, 26), False, date(2026, 11, 25)),
    # across the end of a month and a year
    ("2026-12-28T21:00:00+08:00", date(2027, 1, 4), True, date(2027, 1, 4)),
    ("2026-12-28T21:00:00+08:00", date(2027, 1, 5), False, date(2027, 1, 4)),
]


@pytest.mark.parametrize("delivered,today,eligible,last_day", WINDOW)
def test_seven_days_count_from_the_day_after_delivery_in_shanghai(delivered, today, eligible, last_day):
    decision = no_reason_return(make_order(delivered=delivered), today=today)
    assert decision.eligible is eligible
    assert decision.reason == ("ok" if eligible else "window_passed")
    assert decision.last_day == last_day
    assert last_day_to_return(make_order(delivered=delivered).delivered_at) == last_day


def test_an_accepted_return_gives_the_steps_the_shipping_and_the_refund_time():
    decision = no_reason_return(make_order(), today=date(2026, 11, 25))
    assert decision == ReturnDecision(
        eligible=True, reason="ok", message=decision.message, last_day=date(2026, 11, 25),
        shopper_pays_shipping=True, refund_due_days=7, excluded_items=(), refund=Decimal("129.00"))
    message = decision.message
    assert "申请售后" in message and "七天无理由退货" in message
    assert "退货运费由您承担" in message
    assert "收到退货后7天内退款" in message and "¥129.00" in message
    assert "11月25日" in message


def test_day_8_is_refused_with_the_dates_and_the_alternatives():
    decision = no_reason_return(make_order(), today=date(2026, 11, 26))
    assert not decision.eligible and decision.reason == "window_passed"
    assert decision.refund == Decimal("0.00")
    assert "11月18日签收" in decision.message and "11月25日截止" in decision.message
    for word in ALTERNATIVES:
        assert word in decision.message, word


def test_a_datetime_for_today_is_read_in_shanghai():
    order = make_order()
    # 2026-11-25 17:00 UTC is 11-26 01:00 in Shanghai: day 8
    assert not no_reason_return(order, today=datetime(2026, 11, 25, 17, 0, tzinfo=timezone.utc)).eligible
    assert no_reason_return(order, today=datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc)).eligible


# ------------------------------------------------------------ not yet delivered

@pytest.mark.parametrize("status,what_to_do", [("paid", "取消订单"), ("shipped", "拒收")])
def test_an_order_not_yet_delivered_cannot_be_returned_yet(status, what_to_do):
    decision = no_reason_return(make_order(status=status), today=date(2026, 11, 20))
    assert (decision.eligible, decision.reason, decision.last_day) == (False, "not_delivered", None)
    assert what_to_do in decision.message and "签收" in decision.message


@pytest.mark.parametrize("status,word", [("refunded", "已经退款"), ("cancelled", "已经取消")])
@pytest.mark.parametrize("faulty", [False, True])
def test_a_refunded_or_cancelled_order_has_nothing_to_return(status, word, faulty):
    decision = no_reason_return(make_order(status=status), today=date(2026, 11, 20), faulty=faulty)
    assert (decision.eligible, decision.reason) == (False, "refunded_or_cancelled")
    assert word in decision.message and "转人工" in decision.message


# ------------------------------------------------------------- excluded items

def test_an_excluded_item_is_named_with_the_alternatives():
    order = make_order(items=[CUP, ENGRAVED])
    decision = no_reason_return(order, today=date(2026, 11, 20), sku="KZ-01")
    assert (decision.eligible, decision.reason) == (False, "excluded_item")
    assert decision.excluded_items == ("定制刻字钢笔",)
    assert "「定制刻字钢笔」" in decision.message and "定制商品" in decision.message
    for word in ALTERNATIVES:
        assert word in decision.message, word


def test_an_order_of_excluded_items_only_is_refused():
    decision = no_reason_return(make_order(items=[ENGRAVED]), today=date(2026, 11, 20))
    assert decision.reason == "excluded_item" and decision.excluded_items == ("定制刻字钢笔",)


def test_the_returnable_rest_of_an_order_may_go_back():
    decision = no_reason_return(make_order(items=[CUP, ENGRAVED]), today=date(2026, 11, 20))
    assert decision.eligible and decision.refund == Decimal("129.00")
    assert decision.excluded_items == ("定制刻字钢笔",)
    assert "「定制刻字钢笔」" in decision.message and "不在这次退货里" in decision.message


def test_a_returnable_item_of_a_mixed_order_may_go_back():
    decision = no_reason_return(make_order(items=[CUP, ENGRAVED]), today=date(2026, 11, 20), sku="BWB-500")
    assert decision.eligible and decision.excluded_items == () and decision.refund == Decimal("129.00")


def test_an_unknown_item_is_a_programming_error():
    with pytest.raises(ValueError, match="no item 'NOPE'"):
        no_reason_return(make_order(), today=date(2026, 11, 20), sku="NOPE")


# ----------------------------------------------------------------- faulty goods

@pytest.mark.parametrize("today", [date(2026, 11, 20), date(2026, 11, 26), date(2027, 2, 1)])
@pytest.mark.parametrize("items,sku,refund", [([CUP], None, "129.00"), ([CUP, ENGRAVED], "KZ-01", "89.00")])
def test_faulty_goods_go_back_at_the_shops_cost_whatever_the_window(today, items, sku, refund):
    decision = no_reason_return(make_order(items=items), today=today, faulty=True, sku=sku)
    assert decision.eligible and decision.reason == "ok"
    assert decision.shopper_pays_shipping is False
    assert decision.last_day is None and decision.excluded_items == ()
    assert decision.refund == Decimal(refund)
    assert "不受七天无理由的期限限制" in decision.message
    assert "来回运费由我们承担" in decision.message
    assert "收到退货后7天内退款" in decision.message


def test_faulty_goods_not_yet_delivered_are_still_not_delivered():
    decision = no_reason_return(make_order(status="shipped"), today=date(2026, 11, 20), faulty=True)
    assert decision.reason == "not_delivered" and decision.shopper_pays_shipping is False


# ------------------------------------------------------------------ shop edits

def edited_rules(tmp_path: Path, old: str, new: str):
    text = COMPENSATION_FILE.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "compensation.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_compensation_rules(path).returns


def test_a_shop_can_lengthen_the_window(tmp_path):
    rules = edited_rules(tmp_path, "  window_days: 7", "  window_days: 15")
    decision = no_reason_return(make_order(), today=date(2026, 12, 3), rules=rules)
    assert decision.eligible and decision.last_day == date(2026, 12, 3)
    assert not no_reason_return(make_order(), today=date(2026, 12, 4), rules=rules).eligible


def test_a_shop_can_promise_a_faster_refund(tmp_path):
    rules = edited_rules(tmp_path, "  refund_due_days: 7", "  refund_due_days: 3")
    decision = no_reason_return(make_order(), today=date(2026, 11, 20), rules=rules)
    assert decision.refund_due_days == 3 and "收到退货后3天内退款" in decision.message


def test_the_window_follows_the_shops_time_zone(tmp_path):
    rules = edited_rules(tmp_path, "  timezone: Asia/Shanghai", "  timezone: UTC")
    # 22:45 in Shanghai is 14:45 UTC: the same day either way
    assert no_reason_return(make_order(), today=date(2026, 11, 25), rules=rules).eligible
    # 01:30 in Shanghai on the 19th is still the 18th in UTC
    order = make_order(delivered="2026-11-19T01:30:00+08:00")
    assert no_reason_return(order, today=date(2026, 11, 25), rules=rules).last_day == date(2026, 11, 25)
