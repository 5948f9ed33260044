"""The complaint intake as the action server runs it: the form's validators and questions,
the acknowledgement that prepares the form, opening the case, and asking how it stands.

Every test drives an action with a tracker shaped like the one the Rasa server posts and
checks what the shopper would read (dispatcher messages, buttons) and the slots set.
"""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from rasa_sdk.events import SlotSet

from actions.cases import ActionCaseStatus, ActionOpenCase
from actions.complaints import COMPLAINT_SLOTS, ActionAcknowledgeComplaint
from actions.evidence import MAX_PHOTOS
from actions.intake_form import ActionAskOrderId, ValidateComplaintForm, order_summary
from bot.cases.sla import due_times
from bot.orders import Order
from bot.replies.form_replies import remedy_buttons
from tests.actions.conftest import (
    FORM,
    OTHER_SHOPPER,
    OTHER_SHOPPER_ORDER,
    OTHER_SHOPPER_ORDER_AMOUNT,
    OTHER_SHOPPER_ORDER_ITEM,
    SHOPPER,
    SHOPPER_ORDER,
    SHOPPER_ORDER_ITEM,
    SHOPPER_WITHOUT_ORDERS,
    UNKNOWN_ORDER,
    action_event,
    apply,
    attachments,
    call,
    data_url,
    distinct_png_urls,
    form_tracker,
    image_bytes,
    make_tracker,
    run_action,
    slot_event,
    slot_values,
    texts,
    user_event,
)

FORM_SLOTS = ["description", "order_id", "photo_evidence", "remedy"]
CASE_ID = re.compile(r"SH\d{8}-\d{4}")
# The newest five orders of e2e-shopper-1 by payment time (demo_orders.json).
SHOPPER_RECENT_ORDERS = ["4803751966407353703", "6919556279955606362", "6937883690753103145",
                         "4832622297511964134", "4883690060267735468"]


@pytest.fixture
def form():
    return ValidateComplaintForm()


def validate(form, slot, tracker, domain, value=None):
    value = tracker.get_slot(slot) if value is None else value
    return call(getattr(form, f"validate_{slot}"), value, tracker, domain)


def required(form, tracker, domain):
    return call(form.required_slots, list(FORM_SLOTS), tracker, domain)[1]


# =========================================================================== order_id


@pytest.mark.parametrize("answer", [
    SHOPPER_ORDER,
    f"订单号是{SHOPPER_ORDER}，麻烦看一下",
    SHOPPER_ORDER.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
])
def test_the_shoppers_own_order_is_verified_and_named_by_its_goods(form, domain, answer):
    messages, result = validate(form, "order_id", form_tracker("order_id", answer), domain)

    assert result == {"order_id": SHOPPER_ORDER, "order_verified": True}
    assert len(messages) == 1
    assert "订单核实好了" in messages[0]["text"]
    assert SHOPPER_ORDER_ITEM in messages[0]["text"]


def test_an_eighteen_digit_number_is_asked_again_with_the_nineteen_digit_rule(form, domain):
    messages, result = validate(form, "order_id", form_tracker("order_id", SHOPPER_ORDER[:-1]),
                                domain)

    assert result == {"order_id": None, "order_id_failures": 1}
    assert "19位" in texts(messages)
    assert "订单核实好了" not in texts(messages)


def test_a_message_without_any_digit_is_told_no_order_number_was_found(form, domain):
    messages, result = validate(form, "order_id", form_tracker("order_id", "订单号在哪里看啊"),
                                domain)

    assert result == {"order_id": None, "order_id_failures": 1}
    assert "没有找到订单号" in texts(messages)


def test_an_unknown_order_number_is_reported_as_not_found(form, domain):
    messages, result = validate(form, "order_id", form_tracker("order_id", UNKNOWN_ORDER), domain)

    assert result["order_id"] is None
    assert result["order_id_failures"] == 1
    assert "没有查到这个订单号" in texts(messages)


def test_failures_add_up_from_the_count_already_on_the_tracker(form, domain):
    tracker = form_tracker("order_id", UNKNOWN_ORDER, slots={"order_id_failures": 1.0})

    _, result = validate(form, "order_id", tracker, domain)

    assert result == {"order_id": None, "order_id_failures": 2}


def test_another_shoppers_order_is_refused_without_revealing_anything_about_it(form, domain):
    tracker = form_tracker("order_id", OTHER_SHOPPER_ORDER, sender_id=SHOPPER)

    messages, result = validate(form, "order_id", tracker, domain)

    assert result == {"order_id": None, "order_id_failures": 1}
    said = texts(messages)
    assert "不在您当前的账号下" in said
    assert OTHER_SHOPPER_ORDER_ITEM not in said
    assert OTHER_SHOPPER_ORDER_AMOUNT not in said
    assert "已签收" not in said and "¥" not in said


def test_the_same_order_is_verified_for_its_owner(form, domain):
    # The refusal above is about ownership, not about the order itself.
    tracker = form_tracker("order_id", OTHER_SHOPPER_ORDER, sender_id=OTHER_SHOPPER)

    messages, result = validate(form, "order_id", tracker, domain)

    assert result == {"order_id": OTHER_SHOPPER_ORDER, "order_verified": True}
    assert OTHER_SHOPPER_ORDER_ITEM in texts(messages)


def test_the_third_failure_gives_up_hands_over_to_a_person_and_stops_asking(form, domain):
    tracker = form_tracker("order_id", UNKNOWN_ORDER, slots={"order_id_failures": 2.0})
    assert "order_id" in required(form, tracker, domain)

    messages, result = validate(form, "order_id", tracker, domain)

    assert result == {"order_id": None, "order_id_failures": 3,
                      "needs_human_reason": "order_id_failed"}
    assert "人工" in texts(messages) and "不用再发" in texts(messages)
    after = apply(tracker, [SlotSet(name, value) for name, value in result.items()])
    assert "order_id" not in required(form, after, domain)


def test_the_form_moves_on_to_the_next_question_after_the_third_failure(form, domain):
    tracker = form_tracker("order_id", "不记得了", slots={"order_id_failures": 2.0})

    messages, events = run_action(form, tracker, domain)

    slots = slot_values(events)
    assert slots["needs_human_reason"] == "order_id_failed"
    assert slots["order_id"] is None
    # Quality complaint: the photos come next, the order number is not asked again.
    assert slots["requested_slot"] == "photo_evidence"


def test_the_form_asks_again_for_the_order_number_after_a_first_failure(form, domain):
    # A service complaint needs no photos, so the form itself names the next question.
    tracker = form_tracker("order_id", "不记得了",
                           slots={"complaint_category": "service", "description": "客服不理人"})

    _, events = run_action(form, tracker, domain)

    assert slot_values(events)["requested_slot"] == "order_id"


def test_an_order_number_kept_while_the_order_service_is_down(form, domain, order_service_down):
    tracker = form_tracker("order_id", f"订单号{SHOPPER_ORDER}", slots={"order_id_failures": 1.0})

    messages, result = validate(form, "order_id", tracker, domain)

    assert result == {"order_id": SHOPPER_ORDER, "order_verified": False,
                      "needs_human_reason": "order_unverified"}
    assert "order_id_failures" not in result  # not the shopper's fault: no failure counted
    assert "订单系统暂时连不上" in texts(messages)
    assert "订单核实好了" not in texts(messages)


def test_a_malformed_number_still_counts_as_a_failure_while_the_service_is_down(
        form, domain, order_service_down):
    _, result = validate(form, "order_id", form_tracker("order_id", SHOPPER_ORDER[:-1]), domain)

    assert result == {"order_id": None, "order_id_failures": 1}


# =========================================================================== required slots


@pytest.mark.parametrize("category, description, severity, photos_needed", [
    ("quality", "连衣裙开线了", 3.0, True),
    ("quality", "", 2.0, True),
    ("logistics", "箱子被压坏了", 2.0, True),
    ("logistics", "里面的杯子碎了", 2.0, True),
    ("logistics", "快递三天没动了", 3.0, False),
    ("service", "客服压根不理人", 3.0, False),
    ("return", "退货申请一直不审核", 3.0, False),
    ("transaction", "赠品没收到，东西也碎了", 3.0, False),
    ("quality", "充电宝冒烟了", 1.0, False),
    ("logistics", "箱子压坏了，里面在冒烟", 1.0, False),
])
def test_photos_are_asked_for_quality_and_transit_damage_only(form, domain, category, description,
                                                             severity, photos_needed):
    tracker = make_tracker("", slots={"complaint_category": category, "description": description,
                                      "severity": severity}, active_loop={"name": FORM})

    slots = required(form, tracker, domain)

    assert ("photo_evidence" in slots) is photos_needed
    assert {"description", "order_id", "remedy"} <= set(slots)


def test_an_order_number_given_after_failures_stays_required(form, domain):
    tracker = make_tracker("", slots={"complaint_category": "service", "order_id_failures": 3.0,
                                      "order_id": SHOPPER_ORDER})

    assert "order_id" in required(form, tracker, domain)


# =========================================================================== photo_evidence


@pytest.mark.parametrize("fmt, mime, extension", [("PNG", "image/png", "png"),
                                                   ("JPEG", "image/jpeg", "jpg")])
def test_a_picture_is_stored_and_recorded_by_its_sha256(form, domain, media_dir, fmt, mime,
                                                         extension):
    picture = image_bytes(fmt=fmt)
    sha = hashlib.sha256(picture).hexdigest()
    tracker = form_tracker("photo_evidence", "[图片]",
                           metadata=attachments(data_url(picture, mime)))

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert result["photo_evidence"] == "received"
    assert [p["sha256"] for p in result["photos"]] == [sha]
    assert result["photos"][0]["format"] == fmt
    stored = media_dir / sha[:2] / f"{sha}.{extension}"
    assert stored.read_bytes() == picture
    assert "收到1张图片" in texts(messages)


def test_a_second_picture_is_added_to_the_ones_already_received(form, domain):
    first, second = distinct_png_urls(2)
    _, earlier = validate(form, "photo_evidence",
                          form_tracker("photo_evidence", "[图片]", metadata=attachments(first)),
                          domain)
    tracker = form_tracker("photo_evidence", "[图片]", metadata=attachments(second),
                           slots={"photos": earlier["photos"]})

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert len(result["photos"]) == 2
    assert result["photos"][0] == earlier["photos"][0]
    assert "收到2张图片" in texts(messages)


def test_the_same_picture_sent_twice_is_kept_once(form, domain, media_dir):
    picture = image_bytes(color=(9, 9, 9))
    tracker = form_tracker("photo_evidence", "[图片]", metadata=attachments(
        data_url(picture, "image/png"), data_url(picture, "image/x-png")))

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert [p["sha256"] for p in result["photos"]] == [hashlib.sha256(picture).hexdigest()]
    assert "收到1张图片" in texts(messages)


def test_a_file_that_is_not_a_picture_is_refused(form, domain, media_dir):
    tracker = form_tracker("photo_evidence", "[图片]",
                           metadata=attachments(data_url(b"%PDF-1.4 not a picture at all")))

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert result == {"photo_evidence": None, "photo_failures": 1}
    assert "不是图片" in texts(messages)
    # The refusal is the reason; the shopper is not also told nothing arrived.
    assert "还没有收到图片" not in texts(messages)
    assert not media_dir.exists() or not any(media_dir.rglob("*.*"))


def test_a_video_is_refused_as_not_a_picture(form, domain):
    tracker = form_tracker("photo_evidence", "[视频]",
                           metadata=attachments("https://cdn.example/v.mp4", kind="video"))

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert result["photo_evidence"] is None
    assert "只支持图片" in texts(messages)


def test_a_reason_for_having_no_photo_is_recorded_verbatim(form, domain):
    answer = "已经扔了，没法拍"
    tracker = form_tracker("photo_evidence", answer)

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert result == {"photo_evidence": "missing", "photo_missing_reason": answer}
    assert "原因记在案件里" in texts(messages)


def test_an_answer_without_a_photo_or_a_reason_is_asked_again(form, domain):
    messages, result = validate(form, "photo_evidence", form_tracker("photo_evidence", "好的"),
                                domain)

    assert result == {"photo_evidence": None, "photo_failures": 1}
    assert "还没有收到图片" in texts(messages)


def test_the_third_try_without_a_photo_records_it_as_missing_with_a_reason(form, domain):
    tracker = form_tracker("photo_evidence", "好的", slots={"photo_failures": 2.0})

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert result["photo_evidence"] == "missing"
    assert result["photo_failures"] == 3
    assert result["photo_missing_reason"]
    assert "图片一直没能收到" in texts(messages)


def test_no_more_than_nine_pictures_are_kept(form, domain, media_dir):
    urls = distinct_png_urls(MAX_PHOTOS + 2)
    tracker = form_tracker("photo_evidence", "[图片]", metadata=attachments(*urls))

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert result["photo_evidence"] == "received"
    assert len(result["photos"]) == 9
    assert len({p["sha256"] for p in result["photos"]}) == 9
    assert len(list(media_dir.rglob("*.png"))) == 9
    said = texts(messages)
    assert "最多保存9张" in said and "多出的2张没有保存" in said
    assert "收到9张图片" in said


# =========================================================================== remedy


@pytest.mark.parametrize("answer, remedy", [
    ("退款", "refund"),
    ("我要退款", "refund"),
    ("換貨", "exchange"),
    ("维修", "repair"),
    ("给点补偿吧", "compensation"),
    ("听你们安排", "no_preference"),
])
def test_the_remedy_is_read_from_the_shoppers_words(form, domain, answer, remedy):
    messages, result = validate(form, "remedy", form_tracker("remedy", answer), domain)

    assert result == {"remedy": remedy}
    assert messages == []


def test_every_remedy_button_the_form_offers_is_understood(form, domain):
    for button in remedy_buttons():
        _, result = validate(form, "remedy", form_tracker("remedy", button["payload"]), domain)
        assert result["remedy"] is not None, button


def test_an_unclear_remedy_is_asked_again_with_the_options(form, domain):
    messages, result = validate(form, "remedy", form_tracker("remedy", "啊这个嘛我也说不好"), domain)

    assert result == {"remedy": None}
    assert "没太明白您想怎么处理" in texts(messages)


def test_a_description_from_a_button_payload_is_not_kept(form, domain):
    _, kept = validate(form, "description", form_tracker("description", "杯子裂了一道缝"), domain)
    _, dropped = validate(form, "description",
                          form_tracker("description", "/complain_quality"), domain)

    assert kept == {"description": "杯子裂了一道缝"}
    assert dropped == {"description": None}


# =========================================================================== asking for the order


def test_the_order_question_offers_the_shoppers_recent_orders_as_buttons(domain):
    messages, events = run_action(ActionAskOrderId(), make_tracker("", sender_id=SHOPPER), domain)

    assert events == []
    assert len(messages) == 1
    assert "订单号" in messages[0]["text"] and "点选" in messages[0]["text"]
    buttons = messages[0]["buttons"]
    assert [b["payload"] for b in buttons] == SHOPPER_RECENT_ORDERS
    dress = buttons[SHOPPER_RECENT_ORDERS.index(SHOPPER_ORDER)]["title"]
    assert SHOPPER_ORDER_ITEM in dress and "已签收" in dress
    assert OTHER_SHOPPER_ORDER not in texts(messages)


def test_a_shopper_without_orders_gets_the_plain_question(domain):
    messages, _ = run_action(ActionAskOrderId(),
                             make_tracker("", sender_id=SHOPPER_WITHOUT_ORDERS), domain)

    assert len(messages) == 1
    assert "19位数字" in messages[0]["text"]
    assert "点选" not in messages[0]["text"]
    assert not messages[0]["buttons"]


def test_the_plain_question_is_asked_when_the_order_service_is_down(domain, order_service_down):
    messages, _ = run_action(ActionAskOrderId(), make_tracker("", sender_id=SHOPPER), domain)

    assert "19位数字" in messages[0]["text"]
    assert not messages[0]["buttons"]


# =========================================================================== acknowledgement


def acknowledge(domain, text, intent="complain_quality", **kwargs):
    tracker = make_tracker(text, intent, **kwargs)
    messages, events = run_action(ActionAcknowledgeComplaint(), tracker, domain)
    return messages, events, tracker


def test_the_acknowledgement_prepares_the_form_from_the_first_message(domain):
    text = "买的连衣裙开线了，想退款"
    messages, events, _ = acknowledge(
        domain, text, entities=[{"entity": "product", "value": "连衣裙"},
                                {"entity": "defect", "value": "开线"}],
        intent_ranking=[{"name": "complain_quality", "confidence": 0.7},
                        {"name": "complain_logistics", "confidence": 0.25},
                        {"name": "greet", "confidence": 0.05}])

    slots = slot_values(events)
    assert slots["complaint_category"] == "quality"
    assert slots["secondary_category"] == "logistics"
    assert slots["description"] == text
    assert slots["remedy"] == "refund"
    assert slots["severity"] == 3.0
    assert slots["needs_human_reason"] is None
    assert slots["order_id_failures"] == 0 and slots["photo_failures"] == 0
    assert len(messages) == 1 and "连衣裙" in messages[0]["text"]


def test_a_weak_runner_up_is_not_kept_as_a_secondary_category(domain):
    _, events, _ = acknowledge(
        domain, "连衣裙开线了",
        intent_ranking=[{"name": "complain_quality", "confidence": 0.9},
                        {"name": "complain_service", "confidence": 0.08}])

    assert slot_values(events)["secondary_category"] is None


def test_the_description_is_kept_in_the_shoppers_own_script(domain):
    text = "送給女朋友的生日禮物還沒到，換貨也行"
    _, events, _ = acknowledge(domain, text, "complain_logistics")

    slots = slot_values(events)
    assert slots["description"] == text
    assert slots["remedy"] == "exchange"
    assert slots["complaint_category"] == "logistics"


def test_a_category_button_leaves_description_and_remedy_to_the_form(domain, form):
    _, events, tracker = acknowledge(domain, "/complain_service", "complain_service")

    slots = slot_values(events)
    assert slots["complaint_category"] == "service"
    assert slots["description"] is None
    assert slots["remedy"] is None
    after = apply(tracker, events)
    assert required(form, after, domain) == ["description", "order_id", "remedy"]


def test_a_smoking_charger_is_severity_one_with_a_person_within_two_hours(domain, form):
    messages, events, tracker = acknowledge(
        domain, "充电宝冒烟了", entities=[{"entity": "product", "value": "充电宝"}])

    slots = slot_values(events)
    assert slots["severity"] == 1.0
    assert slots["needs_human_reason"] == "severity_1"
    assert "2小时内联系您" in messages[0]["text"]
    # Nobody is asked to photograph a smoking charger.
    assert "photo_evidence" not in required(form, apply(tracker, events), domain)


def test_an_ordinary_complaint_does_not_promise_a_person(domain):
    messages, events, _ = acknowledge(domain, "连衣裙开线了")

    assert slot_values(events)["severity"] > 1
    assert "小时内联系您" not in messages[0]["text"]


def test_a_picture_on_the_first_message_settles_the_photo_question(domain, media_dir):
    picture = image_bytes(color=(1, 2, 3))
    _, events, _ = acknowledge(domain, "杯子裂了",
                               metadata=attachments(data_url(picture)))

    slots = slot_values(events)
    assert slots["photo_evidence"] == "received"
    assert [p["sha256"] for p in slots["photos"]] == [hashlib.sha256(picture).hexdigest()]
    assert slots["description"] == "杯子裂了"


def test_a_photo_only_first_message_is_not_kept_as_the_description(domain):
    _, events, _ = acknowledge(domain, "[图片]", metadata=attachments(distinct_png_urls(1)[0]))

    slots = slot_values(events)
    assert slots["photo_evidence"] == "received"
    assert slots["description"] is None


def test_photos_of_an_earlier_complaint_do_not_count_for_a_new_one(domain):
    earlier = [{"sha256": "a" * 64, "filename": "a" * 64 + ".png"}]
    _, events, _ = acknowledge(domain, "杯子裂了",
                               slots={"photos": earlier, "photo_evidence": "received"})

    slots = slot_values(events)
    assert slots["photos"] is None
    assert slots["photo_evidence"] is None


def test_saying_the_goods_are_gone_in_the_first_message_records_why_there_is_no_photo(domain):
    text = "杯子裂了，已经扔了"
    _, events, _ = acknowledge(domain, text)

    slots = slot_values(events)
    assert slots["photo_evidence"] == "missing"
    assert slots["photo_missing_reason"] == text


def test_the_acknowledgement_keeps_an_order_number_already_given(domain):
    _, events, _ = acknowledge(domain, "连衣裙开线了",
                               slots={"order_id": SHOPPER_ORDER, "order_verified": True})

    assert "order_id" not in slot_values(events)
    assert "order_verified" not in slot_values(events)


# =========================================================================== opening the case


PHOTO = {"sha256": "b" * 64, "filename": "b" * 64 + ".png", "format": "PNG",
         "width": 64, "height": 48, "size": 1234}


def completed_form(sender_id=SHOPPER, complaint_message="m-1", **slots):
    """The tracker when the complaint form has just been completed."""
    values = {"complaint_category": "quality", "secondary_category": "logistics",
              "description": "连衣裙开线了，想退款", "order_id": SHOPPER_ORDER,
              "order_verified": True, "photo_evidence": "received", "photos": [PHOTO],
              "remedy": "refund", "severity": 3.0, "order_id_failures": 0.0,
              "photo_failures": 0.0}
    values.update(slots)
    events = [
        action_event("action_listen"),
        user_event(values["description"] or "/complain_quality", "complain_quality",
                   complaint_message),
        action_event("action_acknowledge_complaint"),
        slot_event("complaint_category", values["complaint_category"]),
        action_event(FORM),
        action_event("action_listen"),
        user_event(values["order_id"] or "不记得了", "give_order_id", complaint_message + "-order"),
        action_event(FORM),
        action_event("action_listen"),
        user_event("退款", "out_of_scope", complaint_message + "-remedy"),
        action_event(FORM),
        slot_event("requested_slot", None),
    ]
    return make_tracker("退款", "out_of_scope", sender_id=sender_id, slots=values, events=events,
                        message_id=complaint_message + "-remedy", latest_action_name=FORM)


def test_a_case_is_opened_with_what_the_form_collected(domain, store):
    messages, events = run_action(ActionOpenCase(), completed_form(), domain)

    case_id = slot_values(events)["current_case_id"]
    assert CASE_ID.fullmatch(case_id)
    assert case_id in messages[0]["text"]
    case = store.get(case_id)
    assert case.shopper_id == SHOPPER
    assert case.category == "quality"
    assert case.secondary_category == "logistics"
    assert case.order_id == SHOPPER_ORDER
    assert [dict(p) for p in case.photos] == [PHOTO]
    assert case.remedy == "refund"
    assert case.description == "连衣裙开线了，想退款"
    assert case.severity == 3
    assert case.needs_human is False
    due = due_times(case.created_at, 3, needs_human=False)
    assert case.first_response_due == due.first_response
    assert case.solution_due == due.solution
    assert case.first_response_due - case.created_at == timedelta(hours=24)
    assert "退款" in messages[0]["text"]


def test_opening_twice_for_the_same_complaint_returns_the_same_case(domain, store):
    tracker = completed_form(complaint_message="m-7")
    # The retry comes after one more message, but the complaint started with the same one.
    retry = completed_form(complaint_message="m-7")
    retry.latest_message["message_id"] = "m-8"
    retry.events.append(user_event("好了吗", "out_of_scope", "m-8"))

    first, first_events = run_action(ActionOpenCase(), tracker, domain)
    again, again_events = run_action(ActionOpenCase(), retry, domain)

    case_id = slot_values(first_events)["current_case_id"]
    assert slot_values(again_events)["current_case_id"] == case_id
    assert case_id in first[0]["text"] and case_id in again[0]["text"]
    cases = store.cases_of(SHOPPER)
    assert [c.id for c in cases] == [case_id]
    kinds = [e.kind for e in cases[0].events]
    assert kinds.count("opened") == 1
    assert "repeated_complaint" not in kinds  # recognised as the same request, not joined


def test_a_new_complaint_about_another_order_opens_another_case(domain, store):
    _, first = run_action(ActionOpenCase(), completed_form(complaint_message="m-1"), domain)
    _, second = run_action(ActionOpenCase(), completed_form(
        complaint_message="m-9", order_id="4884937396401757228"), domain)

    assert slot_values(first)["current_case_id"] != slot_values(second)["current_case_id"]
    assert len(store.cases_of(SHOPPER)) == 2


def test_a_complaint_that_needs_a_person_is_marked_and_the_shopper_told(domain, store):
    tracker = completed_form(order_verified=False, needs_human_reason="order_unverified")

    messages, events = run_action(ActionOpenCase(), tracker, domain)

    case = store.get(slot_values(events)["current_case_id"])
    assert case.needs_human is True
    assert case.needs_human_reason == "order_unverified"
    assert case.order_id == SHOPPER_ORDER
    assert case.first_response_due - case.created_at == timedelta(hours=2)
    assert "人工客服" in messages[0]["text"]


def test_a_repeated_complaint_that_needs_a_person_marks_the_open_case(domain, store):
    _, first = run_action(ActionOpenCase(), completed_form(complaint_message="m-1"), domain)
    case_id = slot_values(first)["current_case_id"]
    assert store.get(case_id).needs_human is False

    messages, events = run_action(ActionOpenCase(), completed_form(
        complaint_message="m-5", description="又开线了，我要投诉到12315",
        needs_human_reason="public_threat", severity=1.0), domain)

    assert slot_values(events)["current_case_id"] == case_id
    case = store.get(case_id)
    assert case.needs_human is True
    assert case.needs_human_reason == "public_threat"
    assert "之前反馈过" in messages[0]["text"] and "人工客服" in messages[0]["text"]


def test_a_case_without_an_order_after_three_failures_goes_to_a_person(domain, store):
    tracker = completed_form(order_id=None, order_verified=None, order_id_failures=3.0,
                             needs_human_reason="order_id_failed")

    messages, events = run_action(ActionOpenCase(), tracker, domain)

    case = store.get(slot_values(events)["current_case_id"])
    assert case.order_id is None
    assert case.needs_human_reason == "order_id_failed"
    assert "人工客服" in messages[0]["text"]


def test_the_complaint_slots_are_reset_but_the_order_number_is_kept(domain):
    _, events = run_action(ActionOpenCase(), completed_form(), domain)

    slots = slot_values(events)
    for slot in COMPLAINT_SLOTS:
        assert slot in slots and slots[slot] in (None, 0), slot
    assert slots["secondary_category"] is None
    assert "order_id" not in slots


def test_no_case_is_opened_without_a_category(domain, store):
    messages, events = run_action(ActionOpenCase(), completed_form(complaint_category=None),
                                  domain)

    assert messages[0]["response"] == "utter_ask_clarify"
    assert events == []
    assert store.cases_of(SHOPPER) == []


# =========================================================================== case status


def open_case(store, shopper, key, category="quality", description="杯子裂了", order_id=None):
    case, _ = store.open_case(request_key=key, shopper_id=shopper, channel="rest",
                              category=category, severity=3, description=description,
                              order_id=order_id)
    return case


def status(domain, sender_id, text="我的投诉处理到哪了", entities=()):
    tracker = make_tracker(text, "ask_case_status", sender_id=sender_id, entities=entities)
    messages, events = run_action(ActionCaseStatus(), tracker, domain)
    assert events == []
    return texts(messages)


def test_the_shopper_sees_their_own_cases_with_their_status(domain, store):
    done = open_case(store, SHOPPER, "k-1", category="logistics")
    store.set_status(done.id, "resolved", actor="agent")
    current = open_case(store, SHOPPER, "k-2", category="quality")
    others = open_case(store, OTHER_SHOPPER, "k-3", category="service")

    said = status(domain, SHOPPER)

    assert current.id in said and "处理中" in said
    assert done.id in said and "已解决" in said
    assert said.index(current.id) < said.index(done.id)  # unfinished first
    assert others.id not in said


def test_a_shopper_asking_about_their_own_case_number_sees_only_that_case(domain, store):
    wanted = open_case(store, SHOPPER, "k-1")
    other = open_case(store, SHOPPER, "k-2", category="service")

    said = status(domain, SHOPPER, f"{wanted.id.lower()}怎么样了",
                  [{"entity": "case_id", "value": wanted.id.lower()}])

    assert wanted.id in said
    assert other.id not in said


def test_another_shoppers_case_number_reveals_nothing(domain, store):
    theirs = open_case(store, OTHER_SHOPPER, "k-1", category="transaction",
                       description="优惠券没用上多扣了30元", order_id=OTHER_SHOPPER_ORDER)

    said = status(domain, SHOPPER, f"{theirs.id}处理得怎么样",
                  [{"entity": "case_id", "value": theirs.id}])

    assert "没有找到这个案件号" in said
    assert "交易纠纷" not in said and "处理中" not in said
    assert "优惠券" not in said and OTHER_SHOPPER_ORDER not in said
    assert said.count(theirs.id) == 0


def test_a_shopper_without_cases_is_told_so(domain, store):
    open_case(store, OTHER_SHOPPER, "k-1")

    said = status(domain, SHOPPER)

    assert "还没有投诉记录" in said
    assert not CASE_ID.search(said)


# =========================================================================== regressions


def test_a_retried_opening_tells_the_shopper_the_case_was_registered_again(domain, store):
    # The action server may run action_open_case twice for one completed form (a retry
    # after a timeout). The retry is the same request, not a repeated complaint.
    first, first_events = run_action(ActionOpenCase(), completed_form(complaint_message="m-3"),
                                     domain)
    again, again_events = run_action(ActionOpenCase(), completed_form(complaint_message="m-3"),
                                     domain)

    case_id = slot_values(first_events)["current_case_id"]
    assert slot_values(again_events)["current_case_id"] == case_id
    assert f"已为您登记，案件号 {case_id}" in first[0]["text"]
    assert f"已为您登记，案件号 {case_id}" in again[0]["text"]
    assert "之前反馈过" not in again[0]["text"]
    assert [c.id for c in store.cases_of(SHOPPER)] == [case_id]


def test_a_picture_sent_again_while_photos_are_asked_for_counts_as_received(form, domain):
    url = distinct_png_urls(1)[0]
    _, earlier = validate(form, "photo_evidence",
                          form_tracker("photo_evidence", "[图片]", metadata=attachments(url)),
                          domain)
    # The shopper did not see the confirmation and sends the very same picture again.
    tracker = form_tracker("photo_evidence", "[图片]", metadata=attachments(url),
                           slots={"photos": earlier["photos"], "photo_failures": 0.0})

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert result["photo_evidence"] == "received"
    assert result["photos"] == earlier["photos"]  # kept once
    assert "photo_failures" not in result
    assert "收到1张图片" in texts(messages)


@pytest.mark.parametrize("typed", ["missing", "received"])
def test_typing_a_slot_value_while_photos_are_asked_for_settles_nothing(form, domain, typed):
    tracker = form_tracker("photo_evidence", typed, intent="out_of_scope")

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert result == {"photo_evidence": None, "photo_failures": 1}
    assert "还没有收到图片" in texts(messages)


@pytest.mark.parametrize("requested_slot", [None, "description", "order_id"])
@pytest.mark.parametrize("prefilled", ["received", "missing"])
def test_a_photo_answer_settled_by_the_acknowledgement_is_accepted_as_is(form, domain,
                                                                        requested_slot, prefilled):
    slots = {"complaint_category": "quality", "description": "杯子裂了", "severity": 3.0,
             "photo_evidence": prefilled, "requested_slot": requested_slot,
             "photos": [PHOTO] if prefilled == "received" else None}
    tracker = make_tracker("杯子裂了", "complain_quality", slots=slots,
                           active_loop={"name": FORM})

    messages, result = validate(form, "photo_evidence", tracker, domain)

    assert result == {"photo_evidence": prefilled}
    assert messages == []


@pytest.mark.parametrize("reason", ["severity_1", "public_threat"])
def test_a_third_order_number_failure_keeps_an_urgent_reason(form, domain, reason):
    tracker = form_tracker("order_id", UNKNOWN_ORDER,
                           slots={"order_id_failures": 2.0, "needs_human_reason": reason,
                                  "severity": 1.0})

    _, result = validate(form, "order_id", tracker, domain)

    assert result["order_id_failures"] == 3
    assert result["needs_human_reason"] == reason


@pytest.mark.parametrize("reason", ["severity_1", "public_threat"])
def test_the_order_service_down_keeps_an_urgent_reason(form, domain, order_service_down, reason):
    tracker = form_tracker("order_id", SHOPPER_ORDER,
                           slots={"needs_human_reason": reason, "severity": 1.0})

    _, result = validate(form, "order_id", tracker, domain)

    assert result["order_id"] == SHOPPER_ORDER
    assert result["order_verified"] is False
    assert result["needs_human_reason"] == reason


def test_opening_the_case_forgets_the_complaints_product_defect_and_category(domain):
    tracker = completed_form(product="连衣裙", defect="开线")

    _, events = run_action(ActionOpenCase(), tracker, domain)

    slots = slot_values(events)
    assert "product" in slots and slots["product"] is None
    assert "defect" in slots and slots["defect"] is None
    assert "complaint_category" in slots and slots["complaint_category"] is None


def test_the_order_date_is_the_day_in_shanghai():
    # 20:30 UTC on 17 November is 04:30 on 18 November in Shanghai.
    order = Order.from_dict({
        "order_id": "4811111111111111111", "shopper_id": SHOPPER, "tier": "regular",
        "status": "paid", "amount": "99.00",
        "items": [{"sku": "BZ-1", "name": "保温杯", "price": "99.00", "quantity": 1,
                   "returnable": True}],
        "paid_at": "2026-11-17T20:30:00Z",
    })

    summary = order_summary(order)

    assert summary.startswith("11月18日下单的保温杯")
    assert "11月17日" not in summary
