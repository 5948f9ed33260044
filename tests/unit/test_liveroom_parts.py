"""The live-room connector's parts without Rasa: comment events, signatures, what may go
public (property-based over generated numbers), the triage rules, and the dedupe and
rate-limit state in process and in a real Redis server."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import redis
import redis.asyncio as redis_asyncio
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.liveroom.events import MAX_BATCH, EventError, parse_events
from bot.liveroom.limits import (MemoryDeduper, MemoryRateLimiter, RedisDeduper, RedisRateLimiter,
                                 limits_from_env)
from bot.liveroom.masking import mask, public_name, public_reply
from bot.liveroom.signature import sign, verify
from bot.liveroom.triage import load_liveroom_rules, liveroom_rules, triage_texts
from bot.policy.errors import PolicyConfigError

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://localhost:6379/15")
TEMPLATE = "@{nickname} 已私信您，请查看消息"


def comment(**overrides):
    event = {"message_id": "dy-1", "room_id": "room-1", "user_id": "u1", "nickname": "小鱼",
             "text": "衣服开线了", "timestamp": 1718712188.5}
    event.update(overrides)
    return event


def body(data) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


# --------------------------------------------------------------------------- events


@pytest.mark.parametrize("shape", ["single", "list", "wrapped"])
def test_comments_arrive_singly_or_in_batches(shape):
    data = {"single": comment(), "list": [comment(), comment(message_id="dy-2")],
            "wrapped": {"comments": [comment(), comment(message_id="dy-2")]}}[shape]
    comments = parse_events(body(data))
    assert [c.message_id for c in comments] == (["dy-1"] if shape == "single" else ["dy-1", "dy-2"])
    assert comments[0].text == "衣服开线了" and comments[0].timestamp == 1718712188.5


@pytest.mark.parametrize("raw, named", [
    (b"not json", "must be JSON"),
    (body([]), "empty"),
    (body("text"), "one comment object"),
    (body([comment(), comment(text="")]), "comments[1].text"),
    (body({"comments": [comment(user_id=None)]}), "comments[0].user_id"),
    (body(comment(user_id="u 1")), "spaces"),
    (body(comment(timestamp="yesterday")), "timestamp"),
    (body(comment(timestamp=True)), "timestamp"),
    (body(comment(text="长" * 2001)), "at most 2000"),
    (body([comment(message_id=f"m{n}") for n in range(MAX_BATCH + 1)]), f"at most {MAX_BATCH}"),
    (body([1]), "comments[0]"),
])
def test_a_malformed_event_is_refused_with_a_message_naming_it(raw, named):
    with pytest.raises(EventError) as error:
        parse_events(raw)
    assert named in str(error.value)


# --------------------------------------------------------------------------- signatures


def test_only_the_right_secret_over_the_exact_body_verifies():
    data = body([comment()])
    header = sign(data, "s3cret")
    assert header.startswith("sha256=") and verify(data, header, "s3cret")
    assert not verify(data, sign(data, "other"), "s3cret")
    assert not verify(data + b" ", header, "s3cret")
    assert not verify(data, header.replace("sha256=", "sha1="), "s3cret")
    assert not verify(data, None, "s3cret") and not verify(data, "", "s3cret")
    assert not verify(data, "sha256=" + "é" * 64, "s3cret")


# --------------------------------------------------------------------------- what goes public

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)
phones = st.builds(lambda second, rest: "1" + second + rest,
                   st.sampled_from("3456789"), st.text(alphabet="0123456789", min_size=9, max_size=9))
orders = st.text(alphabet="0123456789", min_size=19, max_size=19)
separators = st.sampled_from(["", " ", "-"])
chatter = st.text(alphabet="主播好家人们衣服开线了😡！，。 abc", max_size=12)


def grouped(number: str, separator: str) -> str:
    """138 1234 5678 / 138-1234-5678: how people type numbers."""
    if not separator:
        return number
    return separator.join(number[i:i + 4] for i in range(0, len(number), 4))


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text)


@settings(max_examples=300, deadline=None)
@given(before=chatter, number=st.one_of(phones, orders), separator=separators, after=chatter)
def test_no_phone_or_order_number_survives_masking(before, number, separator, after):
    masked = mask(before + grouped(number, separator) + after)
    assert number not in digits_of(masked)
    assert not re.search(r"\d{6,}", masked.replace(" ", "").replace("-", ""))


@settings(max_examples=300, deadline=None)
@given(name=chatter, number=st.one_of(phones, orders), separator=separators)
def test_a_public_reply_never_carries_a_number_from_the_nickname(name, number, separator):
    reply = public_reply(name + grouped(number, separator), TEMPLATE)
    assert number not in digits_of(reply)
    assert reply.endswith("已私信您，请查看消息") and reply.startswith("@")


@pytest.mark.parametrize("text", [
    "寄到杭州市西湖区文三路88号3单元", "上海浦东新区张江路100弄5号601室", "单号SF1234567890",
    "案件SH20261201-0001", "邮箱a.b@qq.com", "４８８３６９００６０２６７７３５４６８",
])
def test_addresses_tracking_case_numbers_and_emails_are_masked(text):
    masked = mask(text)
    assert "***" in masked
    for secret in ("文三路", "张江路", "1234567890", "20261201", "a.b@qq.com", "４８８３６９"):
        assert secret not in masked


@pytest.mark.parametrize("text", ["主播好666", "我在市场买的", "路上堵车了", "扣1扣1", "12号链接"])
def test_ordinary_chatter_is_left_alone(text):
    assert mask(text) == text


def test_the_reply_uses_the_nickname_only_and_a_blank_one_reads_as_qin():
    assert public_reply("小鱼🐟", TEMPLATE) == "@小鱼🐟 已私信您，请查看消息"
    assert public_name("   ") == "亲"
    assert len(public_name("超" * 50)) == 20


# --------------------------------------------------------------------------- triage rules


def test_only_complaints_and_requests_for_a_person_above_the_confidence_go_private():
    rules = liveroom_rules()
    assert rules.decide({"intent": {"name": "complain_quality", "confidence": 0.9}}) == "complain_quality"
    assert rules.decide({"intent": {"name": "request_human", "confidence": 0.8}}) == "request_human"
    assert rules.decide({"intent": {"name": "complain_logistics", "confidence": rules.min_confidence - 0.01}}) is None
    for chatter_intent in ("greet", "praise", "out_of_scope", "nlu_fallback", None):
        assert rules.decide({"intent": {"name": chatter_intent, "confidence": 0.99}}) is None


def ranked(*pairs):
    ranking = [{"name": n, "confidence": c} for n, c in pairs]
    return {"intent": ranking[0], "intent_ranking": ranking}


def test_a_complaint_split_between_two_categories_still_goes_private_as_the_likelier():
    rules = liveroom_rules()
    split = ranked(("complain_logistics", 0.35), ("complain_transaction", 0.3), ("praise", 0.2))
    assert rules.decide(split) == "complain_logistics"
    # Below the fallback threshold the pipeline names nlu_fallback first; the ranking decides.
    fallback = ranked(("nlu_fallback", 0.4), ("complain_quality", 0.33), ("complain_return", 0.2))
    assert rules.decide(fallback) == "complain_quality"
    chatter = ranked(("out_of_scope", 0.6), ("complain_return", 0.25), ("complain_quality", 0.1))
    assert rules.decide(chatter) is None
    # Small shares further down do not add up to a complaint.
    tail = ranked(("out_of_scope", 0.4), ("complain_return", 0.3), *[(i, 0.05) for i in (
        "complain_quality", "complain_logistics", "complain_service", "request_human")])
    assert rules.decide(tail) is None


def test_a_comment_leaving_a_phone_or_order_number_goes_private_whatever_its_words():
    rules = liveroom_rules()
    question = ranked(("ask_return_policy", 0.7), ("complain_return", 0.2), ("out_of_scope", 0.1))
    for text in ("说好有运费险 电话13131931827 联系我", "订单号4883690060267735468 看一下",
                 "手机１３９１２３４５６７８"):
        assert rules.decide({**question, "text": text}) == "complain_return"
        assert rules.passes_screen(text, 0.0)
    # With no private intent anywhere in the ranking, the shopper asked for a person.
    assert rules.decide({**ranked(("greet", 1.0)), "text": "13131931827"}) == "request_human"
    # Fans' number spam is no phone or order number: 9 ones, 12 sixes, a user id.
    for text in ("111111111", "666666666666", "@用户379840692 快来看", "11111111111"):
        assert rules.decide({**question, "text": text}) is None
        assert not rules.passes_screen(text, 0.0)
    off = replace(rules, private_when_contact_given=False)
    assert off.decide({**question, "text": "电话13131931827"}) is None
    assert not off.passes_screen("电话13131931827", 0.0)


def test_the_triage_of_a_batch_screens_parses_once_and_decides():
    rules = liveroom_rules()
    parsed = []

    def parse_many(texts):
        parsed.append(list(texts))
        return [{**(ranked(("complain_quality", 0.9)) if "坏" in t else ranked(("ask_return_policy", 0.9))),
                 "text": t} for t in texts]

    texts = ["杯子是坏的", "主播好", "能退吗", "能退吗 13131931827"]
    private, count = triage_texts(texts, [0.9, 0.01, 0.5, 0.01], parse_many, rules)
    assert parsed == [["杯子是坏的", "能退吗", "能退吗 13131931827"]] and count == 3
    assert [p and p["intent"]["name"] for p in private] == ["complain_quality", None, None, "request_human"]


@pytest.mark.parametrize("old, new, named", [
    ("min_confidence: 0.45", "min_confidence: 5", "triage.min_confidence"),
    ("private_when_contact_given: true", "private_when_contact_given: 1", "triage.private_when_contact_given"),
    ('public_reply: "@{nickname} 已私信您，请查看消息"', 'public_reply: "已私信您"', "public_reply"),
    ('public_reply: "@{nickname} 已私信您，请查看消息"', 'public_reply: "@{nickname} {order_id}"', "public_reply"),
    ("workers: 2", "workers: 0", "queue.workers"),
])
def test_a_bad_liveroom_file_names_the_key_and_line(tmp_path, old, new, named):
    text = (ROOT / "bot" / "policy" / "liveroom.yml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "liveroom.yml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(PolicyConfigError) as error:
        load_liveroom_rules(path)
    assert named in str(error.value) and "line" in str(error.value)


# --------------------------------------------------------------------------- dedupe and rate limit


@pytest.fixture
def redis_client():
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: run scripts/services.sh (make test does)", pytrace=False)
    plain = redis.Redis.from_url(REDIS_URL)
    try:
        plain.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis at {REDIS_URL} is not reachable ({error}); run scripts/services.sh",
                    pytrace=False)
    plain.close()
    return REDIS_URL


def both_backends(redis_url, limit=3, window=10.0):
    prefix = f"test:{uuid.uuid4().hex}:"
    client = redis_asyncio.from_url(redis_url)
    return [(MemoryDeduper(), MemoryRateLimiter(limit, window), None),
            (RedisDeduper(client, prefix=prefix + "seen:"),
             RedisRateLimiter(client, limit, window, prefix=prefix + "rate:"), client)]


def test_a_redelivered_comment_is_seen_once_in_both_backends(redis_client):
    async def check():
        for deduper, _, client in both_backends(redis_client):
            assert await deduper.first_time("dy-1") is True
            assert await deduper.first_time("dy-1") is False
            assert await deduper.first_time("dy-2") is True
            if client is not None:
                await client.close()
    asyncio.run(check())


def test_two_instances_sharing_redis_agree_on_duplicates_and_limits(redis_client):
    async def check():
        prefix = f"test:{uuid.uuid4().hex}:"
        first, second = redis_asyncio.from_url(redis_client), redis_asyncio.from_url(redis_client)
        a = RedisDeduper(first, prefix=prefix + "seen:")
        b = RedisDeduper(second, prefix=prefix + "seen:")
        results = await asyncio.gather(*(d.first_time("dy-race") for d in (a, b) * 5))
        assert results.count(True) == 1
        limit_a = RedisRateLimiter(first, 4, 10.0, prefix=prefix + "rate:")
        limit_b = RedisRateLimiter(second, 4, 10.0, prefix=prefix + "rate:")
        allowed = [await (limit_a if n % 2 else limit_b).allow("u-flood", now=1000.0 + n * 0.1)
                   for n in range(10)]
        assert allowed == [True] * 4 + [False] * 6
        await first.close()
        await second.close()
    asyncio.run(check())


def test_a_flooding_user_is_limited_and_others_are_not(redis_client):
    async def check():
        for _, limiter, client in both_backends(redis_client, limit=3, window=10.0):
            allowed = [await limiter.allow("u-flood", now=100.0 + n) for n in range(5)]
            assert allowed == [True, True, True, False, False]
            assert await limiter.allow("u-calm", now=104.0) is True
            # After the window the user may speak again.
            assert await limiter.allow("u-flood", now=125.0) is True
            if client is not None:
                await client.close()
    asyncio.run(check())


def test_the_state_lives_in_redis_only_when_redis_url_is_set(redis_client):
    assert limits_from_env({})[2] == "memory"
    deduper, limiter, where = limits_from_env({"REDIS_URL": redis_client, "LIVEROOM_RATE_LIMIT": "7"})
    assert where == "redis" and isinstance(deduper, RedisDeduper) and limiter.limit == 7
