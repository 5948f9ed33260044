"""The satisfaction follow-up (回访) through the running stack: scheduled when a case is
resolved, kept in the database across a restart of every service, sent exactly once when
due, and a low rating reopens the case for a supervisor."""
import base64
import io
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image

from bot.cases import CaseStore
from bot.cases.followups import FollowupStore
from tests.e2e.stack import texts


def photo():
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 120, 10)).save(buffer, format="PNG")
    return [{"type": "image", "url": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()}]


def rating_requests(stack, shopper):
    return [e for e in stack.tracker(shopper)["events"]
            if e["event"] == "bot" and "打个分" in (e.get("text") or "")]


def test_one_followup_after_a_restart_and_a_low_rating_reopens_the_case(stack):
    shopper, order = "demo-chenmama", "4871303234699850709"  # a ¥268 remote-control car
    stack.say("遥控车的遥控器完全没反应，换了新电池也不行", shopper)
    stack.say(order, shopper)
    stack.say("", shopper, attachments=photo())
    stack.say("换货", shopper)
    stack.say("/affirm", shopper)
    case = stack.cases(shopper)[0]
    assert case["status"] == "resolved" and case["followup"]["state"] == "scheduled"
    due = datetime.fromisoformat(case["followup"]["due_at"])
    assert due > datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(minutes=50)
    time.sleep(3)
    assert not rating_requests(stack, shopper)  # not due yet

    stack.restart()
    # The clock reaches the due time (the stack waits an hour; the schedule is moved).
    with CaseStore(stack.database_url) as store:
        FollowupStore(store).schedule(case["id"], shopper, "rest",
                                      datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(seconds=1))
    deadline = time.monotonic() + 60
    while not rating_requests(stack, shopper) and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(4)  # several more polls of the runner
    asked = rating_requests(stack, shopper)
    assert len(asked) == 1 and case["id"] in asked[0]["text"]
    assert stack.cases(shopper)[0]["followup"]["state"] == "sent"

    replies = stack.say("1分，很不满意", shopper)
    case = stack.cases(shopper)[0]
    # Reopened, then straight to a person: the agent queue has it.
    statuses = [e["data"].get("to") for e in case["events"] if e["kind"] == "status_changed"]
    assert "reopened" in statuses
    assert case["status"] == "escalated" and case["needs_human"] is True
    assert case["rating"] == 1 and case["needs_human_reason"] == "reopened_low_rating"
    assert "重新打开" in texts(replies) and "主管" in texts(replies)
    assert "已为您转接人工客服" in texts(replies)
