"""Offers (补偿方案), the shopper's yes / no, and the satisfaction follow-up (回访), as the
action server runs them: real cases in this test's case database, trackers shaped like
the ones the Rasa server posts, and what the shopper reads and the agent sees on the case.
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, List, Optional
from zoneinfo import ZoneInfo

import pytest

from actions import services
from actions.handoff import ActionEscalate
from actions.followup import ActionAskRating, ActionRecordRating, ActionStartFollowup, ValidateRatingForm
from actions.remedies import ActionOfferRemedy, ActionOfferResponse
from bot.cases.sla import service_levels
from bot.replies.case_replies import when
from tests.actions.conftest import apply, call, make_tracker, run_action, slot_values, texts

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Demo orders (bot/orders/demo_orders.json).
SHOES_SHOPPER = "e2e-shopper-3"
SHOES_ORDER = "6948310179007151075"        # delivered, shoes ¥359 + socks ¥29.90 = ¥388.90, growth
KIWI_SHOPPER = "demo-xiaolin"
KIWI_ORDER = "6901012393320946276"         # delivered, kiwis ¥88, dormant
TSHIRT_SHOPPER = "demo-tingting"
TSHIRT_ORDER = "6919956087008139766"       # delivered, 2 T-shirts ¥138, regular

KIWI_DEFECT = "有几个猕猴桃磕碰了，表皮有点发黑"
SHOES_DEFECT = "鞋底开胶了，穿了两天鞋面也裂开"

ACCEPT_TITLE, DECLINE_TITLE, HUMAN_TITLE = "接受这个方案", "换个方案", "找人工客服"
RATING_BUTTONS = [("5分", "5"), ("4分", "4"), ("3分", "3"), ("2分", "2"), ("1分", "1")]

_request_keys = itertools.count(1)


# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def fresh_followup_store(fresh_services):
    """conftest clears the order book, case store and media store but not
    `followup_store()`, which holds on to the case store it was built with: without this
    a test's follow-ups would go to the database of the first test that used one."""
    services.followup_store.cache_clear()
    yield
    services.followup_store.cache_clear()


def open_case(shopper_id: str, order_id: Optional[str], *, severity: int,
              description: str, category: str = "quality", remedy: Optional[str] = None,
              **extra: Any):
    case, created = services.case_store().open_case(
        request_key=f"remedy-test-{next(_request_keys)}", shopper_id=shopper_id, channel="rest",
        order_id=order_id, category=category, severity=severity, description=description,
        remedy=remedy, **extra)
    assert created
    return case


def case_tracker(case, text: str = "", intent: Optional[str] = None, **slots: Any):
    """The shopper's conversation (sender_id = the case's shopper) with the case current."""
    return make_tracker(text, intent, sender_id=case.shopper_id,
                        slots={"current_case_id": case.id, **slots})


def offer_slots(events: Iterable[Any]) -> Dict[str, Any]:
    values = slot_values(events)
    return {name: values[name] for name in ("current_offer", "offer_queue", "offers_declined")
            if name in values}


def offer(case, domain):
    """Run action_offer_remedy for the case: (messages, events, offer slots)."""
    messages, events = run_action(ActionOfferRemedy(), case_tracker(case), domain)
    return messages, events, offer_slots(events)


def answer(case, slots: Dict[str, Any], intent: str, text: str, domain):
    """The shopper answers the offer on the table (slots from the previous action)."""
    tracker = case_tracker(case, text, intent, **slots)
    return run_action(ActionOfferResponse(), tracker, domain)


def kinds(case) -> List[str]:
    return [event.kind for event in case.events]


def due_texts(before: datetime, after: datetime, hours: float) -> set:
    """How the escalation deadline reads, for a clock between `before` and `after`."""
    return {when(moment + timedelta(hours=hours)) for moment in (before, after)}


def now() -> datetime:
    return datetime.now(SHANGHAI)


def assert_escalated(case, reason: str, messages, events, domain, offered: bool = True) -> str:
    """The action found that a person decides: it set the handoff slots and cleared the
    offer; action_escalate, which the rules run next, then marks the case escalated,
    tells the shopper why, the case number and by when, and pauses the bot. Returns
    everything the shopper read."""
    values = slot_values(events)
    assert values["handoff_reason"] == reason and values["handoff_due"] is True
    if offered:
        # Nothing is left on the table: a later yes cannot accept a stale offer.
        assert values["current_offer"] is None and values["offer_queue"] is None
    assert not any(m.get("buttons") for m in messages)

    tracker = apply(case_tracker(case), events)
    before = now()
    escalation, escalate_events = run_action(ActionEscalate(), tracker, domain)
    after = now()
    stored = services.case_store().get(case.id)
    assert stored.status == "escalated"
    assert stored.needs_human is True
    assert stored.needs_human_reason == reason
    said = texts(messages) + texts(escalation)
    assert case.id in said
    hours = service_levels().first_response_hours
    assert any(due in said for due in due_texts(before, after, hours)), said
    assert {"event": "pause"} in [{"event": e["event"]} for e in escalate_events]
    return said


# --------------------------------------------------------------------------- offering


def test_minor_quality_case_is_offered_the_15_percent_coupon(store, domain):
    case = open_case(KIWI_SHOPPER, KIWI_ORDER, severity=3, description=KIWI_DEFECT)

    messages, events, slots = offer(case, domain)

    assert len(messages) == 1
    said = messages[0]["text"]
    assert "15% 优惠券 ¥13.20" in said
    assert "需要主管审批" not in said
    buttons = messages[0]["buttons"]
    assert [b["title"] for b in buttons] == [ACCEPT_TITLE, DECLINE_TITLE, HUMAN_TITLE]
    assert buttons[2]["payload"] == "/request_human"

    assert slots["current_offer"]["code"] == "coupon"
    assert slots["current_offer"]["coupon"] == "13.20"
    assert [o["code"] for o in slots["offer_queue"]] == ["partial_refund"]
    assert slots["offers_declined"] == 0.0

    stored = store.get(case.id)
    assert stored.compensation()["offers"] == [slots["current_offer"]]
    assert stored.status == "open" and not stored.needs_human


def test_offer_buttons_send_intents_the_dialogue_answers(domain):
    case = open_case(KIWI_SHOPPER, KIWI_ORDER, severity=3, description=KIWI_DEFECT)

    messages, _, _ = offer(case, domain)

    payloads = [b["payload"] for b in messages[0]["buttons"]]
    intents = {i if isinstance(i, str) else next(iter(i)) for i in domain["intents"]}
    assert all(p.startswith("/") and p[1:] in intents for p in payloads), payloads
    assert payloads == ["/affirm", "/deny", "/request_human"]


def test_the_shoppers_wished_remedy_is_offered_first(store, domain):
    case = open_case(KIWI_SHOPPER, KIWI_ORDER, severity=3, description=KIWI_DEFECT,
                     remedy="refund")

    messages, _, slots = offer(case, domain)

    said = texts(messages)
    assert "退您 10% 的货款 ¥8.80" in said
    assert "¥13.20" not in said
    assert slots["current_offer"]["code"] == "partial_refund"
    assert slots["current_offer"]["remedy"] == "refund"
    assert [o["code"] for o in slots["offer_queue"]] == ["coupon"]
    assert [o["code"] for o in store.get(case.id).compensation()["offers"]] == ["partial_refund"]


def test_severe_quality_full_refund_above_the_cap_needs_a_supervisor(store, domain):
    case = open_case(SHOES_SHOPPER, SHOES_ORDER, severity=2, description=SHOES_DEFECT)

    messages, _, slots = offer(case, domain)

    assert len(messages) == 1
    said = messages[0]["text"]
    note, offered = said.split("\n", 1)
    # The better option is named, with its amount, as needing a supervisor …
    assert "全额退款 ¥388.90" in note and "需要主管审批" in note
    # … and what is offered now is the exchange with the longer warranty.
    assert "免费换新 + 延长保修 12 个月" in offered
    assert "全额退款" not in offered
    assert [b["title"] for b in messages[0]["buttons"]] == [ACCEPT_TITLE, DECLINE_TITLE, HUMAN_TITLE]

    assert slots["current_offer"]["code"] == "exchange_warranty"
    assert slots["offer_queue"] == []
    stored = store.get(case.id)
    # Only what was put to the shopper is recorded as offered; the case stays with the bot.
    assert [o["code"] for o in stored.compensation()["offers"]] == ["exchange_warranty"]
    assert stored.status == "open" and not stored.needs_human


def test_case_with_every_offer_above_the_cap_goes_to_a_person(store, domain):
    # Severity 1 (safety) on the ¥388.90 order: only the full refund, which is above
    # the ¥200 cap (and at severity 1 a person decides anyway).
    case = open_case(SHOES_SHOPPER, SHOES_ORDER, severity=1, description="鞋子有很重的刺鼻气味，穿了以后脚起红疹")

    messages, events, _ = offer(case, domain)

    said = assert_escalated(case, "over_cap", messages, events, domain)
    assert "主管审批" in said
    stored = store.get(case.id)
    assert stored.compensation()["offers"] == []
    assert "escalated" in kinds(stored)


@pytest.mark.parametrize("order_id", [None, TSHIRT_ORDER], ids=["no-order", "someone-elses-order"])
def test_case_without_a_verified_order_goes_to_a_person(order_id, store, domain):
    case = open_case(SHOES_SHOPPER, order_id, severity=3, description="衣服洗了一次就缩水了")

    messages, events, _ = offer(case, domain)

    said = assert_escalated(case, "no_order", messages, events, domain)
    assert "没有核实到订单" in said
    assert "¥" not in said  # no amount of someone else's order is shown
    assert store.get(case.id).compensation()["offers"] == []


def test_case_already_with_a_person_gets_no_offer(store, domain):
    case = open_case(KIWI_SHOPPER, KIWI_ORDER, severity=3, description=KIWI_DEFECT,
                     needs_human=True, needs_human_reason="shopper_asked")
    before = store.get(case.id)

    messages, events, _ = offer(case, domain)

    assert messages == [] and events == []
    after = store.get(case.id)
    assert after.compensation()["offers"] == []
    assert after.needs_human_reason == "shopper_asked"
    assert after.events == before.events


# --------------------------------------------------------------------------- answering


@pytest.mark.parametrize("intent, text", [("affirm", "好的，就这样吧"), ("affirm", "/affirm")])
def test_accepting_resolves_the_case_and_schedules_the_followup(intent, text, store, domain, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_DELAY_SECONDS", "5400")
    case = open_case(KIWI_SHOPPER, KIWI_ORDER, severity=3, description=KIWI_DEFECT)
    _, _, slots = offer(case, domain)
    pending = slots["current_offer"]

    before = now()
    messages, events = answer(case, slots, intent, text, domain)
    after = now()

    resolved = store.get(case.id)
    assert resolved.status == "resolved"
    assert resolved.remedy == "compensation"
    assert resolved.compensation()["accepted"] == pending
    assert not resolved.needs_human

    followup = services.followup_store().get(case.id)
    assert followup is not None
    assert followup.sender_id == KIWI_SHOPPER and followup.channel == "rest"
    delay = timedelta(seconds=5400)
    assert before + delay - timedelta(seconds=1) <= followup.due_at <= after + delay + timedelta(seconds=1)
    assert followup.rating is None and followup.fired_at is None

    said = texts(messages)
    assert case.id in said
    promised = {when(service_levels().add_working_days(moment, 1)) for moment in (before, after)}
    assert any(by in said for by in promised), said  # a coupon is credited within 1 working day
    assert "1.5小时后" in said
    assert not any(m.get("buttons") for m in messages)
    assert slot_values(events) == {"current_offer": None, "offer_queue": None, "offers_declined": 0.0}


def test_accepting_an_exchange_promises_the_shipping_date(store, domain, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_DELAY_SECONDS", "86400")
    case = open_case(SHOES_SHOPPER, SHOES_ORDER, severity=2, description=SHOES_DEFECT)
    _, _, slots = offer(case, domain)

    before = now()
    messages, _ = answer(case, slots, "affirm", "行", domain)
    after = now()

    resolved = store.get(case.id)
    assert resolved.status == "resolved" and resolved.remedy == "exchange"
    assert resolved.compensation()["accepted"]["code"] == "exchange_warranty"
    said = texts(messages)
    promised = {when(service_levels().add_working_days(moment, 2)) for moment in (before, after)}
    assert "新的商品会在" in said and any(by in said for by in promised), said
    assert "24小时后" in said
    due = services.followup_store().get(case.id).due_at
    assert before + timedelta(hours=24) - timedelta(seconds=1) <= due <= after + timedelta(hours=24, seconds=1)


def test_declining_records_it_and_offers_the_next_option(store, domain):
    case = open_case(KIWI_SHOPPER, KIWI_ORDER, severity=3, description=KIWI_DEFECT)
    _, _, slots = offer(case, domain)

    messages, events = answer(case, slots, "deny", "不要优惠券", domain)

    said = texts(messages)
    assert said.startswith("好的，那换一个方案：")
    assert "退您 10% 的货款 ¥8.80" in said
    assert [b["title"] for b in messages[0]["buttons"]] == [ACCEPT_TITLE, DECLINE_TITLE, HUMAN_TITLE]
    values = offer_slots(events)
    assert values["current_offer"]["code"] == "partial_refund"
    assert values["offer_queue"] == []
    assert values["offers_declined"] == 1.0

    stored = store.get(case.id)
    assert "offer_declined" in kinds(stored)
    compensation = stored.compensation()
    assert compensation["declined"] == ["coupon"]
    assert [o["code"] for o in compensation["offers"]] == ["coupon", "partial_refund"]
    assert compensation["accepted"] is None
    assert stored.status == "open" and not stored.needs_human


def test_a_second_decline_hands_the_case_to_a_person(store, domain):
    case = open_case(KIWI_SHOPPER, KIWI_ORDER, severity=3, description=KIWI_DEFECT)
    _, _, slots = offer(case, domain)
    _, events = answer(case, slots, "deny", "不要优惠券", domain)
    slots = offer_slots(events)

    messages, events = answer(case, slots, "deny", "也不行", domain)

    said = assert_escalated(case, "declined_twice", messages, events, domain)
    assert "两个方案都没能让您满意" in said
    assert slot_values(events)["offers_declined"] == 2.0
    compensation = store.get(case.id).compensation()
    assert compensation["declined"] == ["coupon", "partial_refund"]
    assert compensation["accepted"] is None
    assert services.followup_store().get(case.id) is None


def test_declining_the_last_option_hands_the_case_to_a_person(store, domain):
    # Severe quality on ¥388.90: the exchange is the only option the bot may grant.
    case = open_case(SHOES_SHOPPER, SHOES_ORDER, severity=2, description=SHOES_DEFECT)
    _, _, slots = offer(case, domain)
    assert slots["offer_queue"] == []

    messages, events = answer(case, slots, "deny", "我不想换货", domain)

    said = assert_escalated(case, "no_more_offers", messages, events, domain)
    assert "能给出的方案都说完了" in said
    assert store.get(case.id).compensation()["declined"] == ["exchange_warranty"]


@pytest.mark.parametrize("intent, text, reply", [
    ("affirm", "好的", "好的，收到。还有什么需要我帮您处理的吗？"),
    ("deny", "不用了", "好的，明白了。如果还有其他问题，随时告诉我。"),
])
def test_yes_or_no_without_a_pending_offer_is_just_acknowledged(intent, text, reply, store, domain):
    case = open_case(KIWI_SHOPPER, KIWI_ORDER, severity=3, description=KIWI_DEFECT)
    before = store.get(case.id)

    messages, events = answer(case, {"current_offer": None, "offer_queue": None}, intent, text, domain)

    assert texts(messages) == reply
    assert events == []
    after = store.get(case.id)
    assert after.to_json() == before.to_json()
    assert services.followup_store().get(case.id) is None


# --------------------------------------------------------------------------- follow-up


def resolved_case(domain, monkeypatch, shopper=KIWI_SHOPPER, order=KIWI_ORDER):
    """A case the shopper accepted an offer for, with its follow-up scheduled."""
    monkeypatch.setenv("FOLLOWUP_DELAY_SECONDS", "60")
    case = open_case(shopper, order, severity=3, description=KIWI_DEFECT)
    _, _, slots = offer(case, domain)
    answer(case, slots, "affirm", "好的", domain)
    assert services.case_store().get(case.id).status == "resolved"
    return case


def test_start_followup_asks_for_the_rating_and_opens_the_rating_form(domain, monkeypatch):
    case = resolved_case(domain, monkeypatch)
    tracker = make_tracker("", None, sender_id=KIWI_SHOPPER, slots={"rating_case_id": case.id},
                           events=[])

    messages, events = run_action(ActionStartFollowup(), tracker, domain)

    assert len(messages) == 1
    assert case.id in messages[0]["text"] and "1-5分" in messages[0]["text"]
    assert [(b["title"], b["payload"]) for b in messages[0]["buttons"]] == RATING_BUTTONS
    assert {"event": "active_loop", "name": "rating_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events if e["event"] == "active_loop"]
    assert slot_values(events)["requested_slot"] == "rating"
    assert slot_values(events)["rating"] is None


def test_start_followup_without_a_case_does_nothing(domain):
    tracker = make_tracker("", None, sender_id=KIWI_SHOPPER, events=[])

    messages, events = run_action(ActionStartFollowup(), tracker, domain)

    assert messages == [] and events == []


def test_ask_rating_names_the_case(domain, monkeypatch):
    case = resolved_case(domain, monkeypatch)
    tracker = make_tracker("", None, sender_id=KIWI_SHOPPER, slots={"rating_case_id": case.id},
                           active_loop={"name": "rating_form"})

    messages, events = run_action(ActionAskRating(), tracker, domain)

    assert case.id in texts(messages)
    assert [(b["title"], b["payload"]) for b in messages[0]["buttons"]] == RATING_BUTTONS
    assert events == []


def rating_tracker(text: str, case_id: str = "GD-TEST"):
    return make_tracker(text, None, sender_id=KIWI_SHOPPER,
                        slots={"rating_case_id": case_id, "requested_slot": "rating", "rating": text},
                        active_loop={"name": "rating_form"})


@pytest.mark.parametrize("text, rating", [("5", "5"), ("4分", "4"), ("不满意", "1")])
def test_rating_form_reads_the_shoppers_answer(text, rating, domain):
    messages, result = call(ValidateRatingForm().validate_rating, text, rating_tracker(text), domain)

    assert result == {"rating": rating}
    assert messages == []


def test_rating_form_asks_again_for_an_answer_that_is_no_rating(domain):
    messages, result = call(ValidateRatingForm().validate_rating, "随便", rating_tracker("随便"), domain)

    assert result == {"rating": None}
    assert texts(messages) == "请直接回复1-5的数字，或者说“满意”“一般”“不满意”就行。"


@pytest.mark.parametrize("rating", ["1", "2"])
def test_a_low_rating_reopens_the_case_for_a_supervisor(rating, store, domain, monkeypatch):
    case = resolved_case(domain, monkeypatch)
    tracker = make_tracker(rating, None, sender_id=KIWI_SHOPPER,
                           slots={"rating_case_id": case.id, "rating": rating})

    messages, events = run_action(ActionRecordRating(), tracker, domain)

    reopened = store.get(case.id)
    assert reopened.status == "reopened"
    assert services.followup_store().get(case.id).rating == int(rating)
    assert case.id in texts(messages) and "重新打开" in texts(messages)
    assert slot_values(events)["rating_case_id"] is None
    assert slot_values(events)["current_case_id"] == case.id

    said = assert_escalated(case, "reopened_low_rating", [], events, domain, offered=False)
    assert "主管" in said
    assert store.get(case.id).status == "escalated"


def test_a_good_rating_closes_the_case_with_thanks(store, domain, monkeypatch):
    case = resolved_case(domain, monkeypatch)
    tracker = make_tracker("4", None, sender_id=KIWI_SHOPPER,
                           slots={"rating_case_id": case.id, "rating": "4"})

    messages, events = run_action(ActionRecordRating(), tracker, domain)

    closed = store.get(case.id)
    assert closed.status == "closed"
    assert not closed.needs_human
    assert services.followup_store().get(case.id).rating == 4
    said = texts(messages)
    assert "感谢" in said and "4分" in said and case.id in said
    assert "主管" not in said
    assert slot_values(events) == {"rating_case_id": None, "rating": None}
