"""The conversation as an agent reads it in the console, from Rasa tracker events."""
import pytest

from bot.console.transcript import transcript

SHA = "0123456789abcdef" * 4
T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC


def user(text, ts=T0, metadata=None):
    return {"event": "user", "timestamp": ts, "text": text, "metadata": metadata or {},
            "parse_data": {"intent": {"name": "complain_quality"}}}


def bot(text, ts=T0, metadata=None, buttons=None):
    return {"event": "bot", "timestamp": ts, "text": text, "metadata": metadata or {},
            "data": {"buttons": buttons} if buttons else {}}


def photo_message(*urls, kind="image"):
    return user("[图片]", metadata={"attachments": [{"type": kind, "url": u} for u in urls]})


def test_messages_and_pauses_come_in_order_with_their_event_index():
    events = [
        {"event": "action", "name": "action_listen", "timestamp": T0},
        user("充电宝冒烟了", ts=T0),
        {"event": "slot", "name": "complaint_category", "value": "quality", "timestamp": T0},
        {"event": "action", "name": "action_escalate", "timestamp": T0},
        bot("您的安全最要紧，已转人工客服。", ts=T0 + 1),
        {"event": "pause", "timestamp": T0 + 2},
        bot("您好，我是小美，请问充电宝还在冒烟吗？", ts=T0 + 60, metadata={"agent": "小美"}),
        user("不冒了", ts=T0 + 90),
        {"event": "resume", "timestamp": T0 + 120},
        {"event": "active_loop", "name": None, "timestamp": T0 + 120},
    ]

    items = transcript(events)

    assert [(i["index"], i["who"]) for i in items] == [
        (1, "shopper"), (4, "bot"), (5, "system"), (6, "agent"), (7, "shopper"), (8, "system")]
    assert [i["text"] for i in items] == [
        "充电宝冒烟了", "您的安全最要紧，已转人工客服。", "机器人已暂停，等待人工客服",
        "您好，我是小美，请问充电宝还在冒烟吗？", "不冒了", "已交还机器人"]
    assert items[0]["at"] == "2023-11-15T06:13:20+08:00"


def test_an_agent_is_told_apart_from_the_bot_by_the_event_metadata():
    items = transcript([bot("机器人的话"), bot("客服的话", metadata={"agent": "小美"}),
                        bot("也是机器人", metadata={"agent": ""})])

    assert [i["who"] for i in items] == ["bot", "agent", "bot"]
    assert items[0]["agent"] is None and items[1]["agent"] == "小美"


def test_button_titles_are_shown():
    buttons = [{"title": "接受这个方案", "payload": "/affirm"},
               {"title": "找人工客服", "payload": "/request_human"}]
    items = transcript([bot("给您 15% 优惠券", buttons=buttons), bot("没有按钮")])
    assert items[0]["buttons"] == ["接受这个方案", "找人工客服"]
    assert items[1]["buttons"] == []


def test_a_stored_photo_gives_its_file_name():
    [item] = transcript([photo_message(f"media:{SHA}.jpg", f"media:{SHA}.png")])
    assert item["photos"] == [{"filename": f"{SHA}.jpg"}, {"filename": f"{SHA}.png"}]


@pytest.mark.parametrize("url", [
    "data:image/png;base64,iVBORw0KGgo=",
    "https://img.example.com/a.jpg",
    "media:../../etc/passwd",
    f"media:../{SHA}.jpg",
    f"media:{SHA}.jpg/../../secret",
    f"media:{SHA}.exe",
    f"media:{SHA.upper()}.jpg",
    "",
])
def test_a_photo_not_in_the_media_store_has_no_file_name(url):
    [item] = transcript([photo_message(url)])
    assert item["photos"] == [{"filename": None}]


def test_attachments_that_are_not_images_are_not_photos():
    [item] = transcript([photo_message("https://example.com/a.pdf", kind="file")])
    assert item["photos"] == []
    assert transcript([user("你好")])[0]["photos"] == []


def test_events_of_other_kinds_are_skipped():
    events = [{"event": kind, "timestamp": T0} for kind in
              ("action", "slot", "active_loop", "followup", "restart", "session_started",
               "user_featurization", "action_execution_rejected", "reset_slots")]
    assert transcript(events) == []
