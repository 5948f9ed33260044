"""Mining transcripts for what the model failed to understand: which messages become
candidates, that planted topics among realistic messages cluster apart, the nearest
existing intent, the clusters file and the trainer rules. Real jieba, the real training
data in data/nlu, the held-out test texts as background."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.nlu.evaluation import load_nlu_examples
from bot.policy.errors import PolicyConfigError
from bot.policy.location import SHIPPED
from bot.trainer import mine as mining
from bot.trainer.rules import load_trainer_rules

ROOT = Path(__file__).resolve().parents[2]

# Near-duplicates of one question a shop gets after a price drop (价保/差价), written
# the ways shoppers do: typo (价报), emoji, Traditional characters, spaces.
PRICE = [
    "买了三天就降价了，能申请价保退差价吗",
    "买了三天就降价了能申请价保退差价吗😭😭",
    "買了三天就降價了，能申請價保退差價嗎",
    "刚买三天就降价了，能申请价保退差价吗？？",
    "买了两天就降价了，可以申请价保退差价吗",
    "才买三天就降价了 能不能价保 退差价",
    "买了三天降价了，能申请价报退差价吗",
    "降价了，买了三天，能申请价保吗，想退差价🙏",
]
POINTS = [
    "会员积分怎么没到账",
    "会员积分怎么还没到账啊？？",
    "會員積分怎麼沒到賬",
    "我的会员积分咋没到账😡",
    "会员积份怎么没到帐",
    "买完东西会员积分没到账",
]
LOGISTICS = [
    "快递三天了还没发货",
    "快递三天了还没发货啊😡",
    "快遞三天了還沒發貨",
    "下单三天了快递还没发货",
    "都三天了还没发货，快递呢",
]


def record(text, conversation="c-000000000001", turn=0, intent="nlu_fallback", confidence=0.31, **extra):
    entry = {"conversation": conversation, "turn": turn, "timestamp": 1733100000.0 + turn,
             "time": "2026-12-02T08:40:00+08:00", "channel": "rest", "text": text, "intent": intent,
             "confidence": confidence, "next_action": None, "escalated": False, "escalated_next": False}
    entry.update(extra)
    return entry


@pytest.fixture(scope="module")
def rules():
    return load_trainer_rules()


@pytest.fixture(scope="module")
def training():
    return load_nlu_examples(ROOT / "data" / "nlu")


@pytest.fixture(scope="module")
def export():
    """Planted topics among realistic messages the model was unsure about, each shopper
    in a conversation of their own."""
    background = [e.text for e in load_nlu_examples(ROOT / "tests" / "data" / "nlu_heldout.yml")]
    texts = PRICE + POINTS + LOGISTICS + background
    return [record(text, conversation=f"c-{index:012x}", confidence=0.2 + (index % 4) * 0.1)
            for index, text in enumerate(texts)]


@pytest.fixture(scope="module")
def mined(export, training, rules):
    return mining.mine(export, training, rules, source="export.jsonl", progress=False)


def clusters_holding(result, texts):
    return [c for c in result["clusters"] if {m["text"] for m in c["messages"]} & set(texts)]


def test_each_planted_topic_lands_in_one_cluster_of_its_own(mined):
    price, = clusters_holding(mined, PRICE)
    points, = clusters_holding(mined, POINTS)
    assert price is not points
    price_texts = {m["text"] for m in price["messages"]}
    points_texts = {m["text"] for m in points["messages"]}
    assert {mining._same_text(t) for t in PRICE} <= price_texts
    assert {mining._same_text(t) for t in POINTS} <= points_texts
    assert not price_texts & set(POINTS) and not points_texts & set(PRICE)
    # A planted topic may take in a background message about the same thing, not a crowd.
    assert len(price["messages"]) <= len(PRICE) + 3
    assert len(points["messages"]) <= len(POINTS) + 3


def test_a_cluster_shows_its_words_representatives_and_size(mined, rules):
    price, = clusters_holding(mined, PRICE)
    assert {"价保", "差价", "降价"} <= set(price["top_terms"])
    assert 1 <= len(price["top_terms"]) <= mining.TOP_TERMS
    assert all(len(term) > 1 for term in price["top_terms"])
    assert len(price["representatives"]) == rules.representatives
    ids = {m["id"]: m["text"] for m in price["messages"]}
    assert all(ids[r["id"]] == r["text"] for r in price["representatives"])
    # Closest to the centroid first: the plain wording, not the reordered one.
    assert price["representatives"][0]["text"] in PRICE[:6]
    assert price["size"] == sum(m["count"] for m in price["messages"])
    sizes = [c["size"] for c in mined["clusters"]]
    assert sizes == sorted(sizes, reverse=True)
    assert [c["id"] for c in mined["clusters"]] == list(range(1, len(sizes) + 1))
    assert all(c["size"] >= rules.min_cluster_size for c in mined["clusters"])


def test_logistics_complaints_are_nearest_to_complain_logistics(mined):
    logistics = max(clusters_holding(mined, LOGISTICS),
                    key=lambda c: len({m["text"] for m in c["messages"]} & set(LOGISTICS)))
    assert len({m["text"] for m in logistics["messages"]} & set(LOGISTICS)) >= 4
    assert logistics["nearest_intent"] == "complain_logistics"
    assert 0 < logistics["similarity"] <= 1


def test_nearest_intent_of_a_topic_the_bot_lacks_is_a_weak_match(mined):
    points, = clusters_holding(mined, POINTS)
    logistics, = [c for c in mined["clusters"] if c["nearest_intent"] == "complain_logistics"
                  and {m["text"] for m in c["messages"]} & set(LOGISTICS)]
    assert points["similarity"] < logistics["similarity"]


def test_message_ids_are_unique_and_every_candidate_is_listed_once(mined, export):
    messages = [m for c in mined["clusters"] for m in c["messages"]] + mined["singletons"]
    ids = [m["id"] for m in messages]
    assert ids == [f"m{k}" for k in range(1, len(ids) + 1)]
    assert sum(m["count"] for m in messages) == mined["candidates"]
    # Every background text was unsure; only the one that is itself a correction drops out.
    corrections = [r for r in export if "你理解错了" in r["text"]]
    assert len(corrections) == 1
    assert len(messages) == mined["unique"] == len({mining._same_text(r["text"]) for r in export}) - 1
    assert set(messages[0]) == {"id", "text", "reasons", "intent", "confidence", "conversation",
                                "turn", "count"}


def test_saved_clusters_round_trip(mined, tmp_path):
    path = tmp_path / "trainer" / "clusters.json"
    mining.save(mined, path)
    assert mining.load(path) == mined
    assert "价保" in path.read_text(encoding="utf-8")  # readable, not \\u escapes


def test_a_clusters_file_with_a_repeated_id_is_refused(mined, tmp_path):
    broken = json.loads(json.dumps(mined))
    broken["singletons"].append(dict(broken["clusters"][0]["messages"][0]))
    path = tmp_path / "clusters.json"
    path.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(mining.MineError, match="m1 appears twice"):
        mining.load(path)


# Choosing candidates -------------------------------------------------------------------

def test_candidates_are_fallbacks_unsure_before_escalation_and_corrected(rules):
    records = [
        record("这个能便宜点吗", intent="nlu_fallback", confidence=0.72, turn=0),
        record("衣服有点色差", intent="complain_quality", confidence=0.41, turn=1),
        record("我的快递到哪了", intent="complain_logistics", confidence=0.93, turn=2),
        record("那我要投诉", intent="complain_service", confidence=0.88, turn=3, escalated_next=True),
        record("发票怎么开", intent="complain_transaction", confidence=0.9, turn=4),
        record("不是这个问题", intent="nlu_fallback", confidence=0.2, turn=5),
        record("/affirm", intent="affirm", confidence=1.0, turn=6, payload=True),
        record("/deny", intent="nlu_fallback", confidence=0.1, turn=7),
        record("   ", intent="nlu_fallback", confidence=0.1, turn=8),
        record("谢谢", intent="thank", confidence=None, turn=9),
    ]
    found = {c.text: c.reasons for c in mining.select_candidates(records, rules)}
    assert found == {
        "这个能便宜点吗": ["fallback"],
        "衣服有点色差": ["low_confidence"],
        "那我要投诉": ["before_escalation"],
        "发票怎么开": ["corrected"],
    }


def test_keywords_bring_in_confidently_misread_messages_of_a_topic(rules):
    records = [
        record("买完就降价了 能补差价吗", intent="complain_transaction", confidence=0.95, turn=0),
        record("價保怎麼申請", intent="complain_transaction", confidence=0.9, turn=1),
        record("我的快递到哪了", intent="complain_logistics", confidence=0.93, turn=2),
    ]
    assert mining.select_candidates(records, rules) == []
    found = {c.text: c.reasons for c in mining.select_candidates(records, rules, keywords=["价保", "差价"])}
    assert found == {"买完就降价了 能补差价吗": ["keyword"], "價保怎麼申請": ["keyword"]}


def test_a_correction_marks_the_message_before_it_in_its_own_conversation(rules):
    records = [
        # File order is not turn order; the correction is in Traditional characters.
        record("你理解錯了，我問的是運費險", conversation="c-a", turn=2, confidence=0.2),
        record("运费险怎么赔", conversation="c-a", turn=1, intent="ask_return_policy", confidence=0.8),
        record("退货要自己出运费吗", conversation="c-a", turn=0, intent="ask_return_policy", confidence=0.9),
        # A correction that opens a conversation marks nothing in another one.
        record("能开发票吗", conversation="c-b", turn=0, intent="ask_return_policy", confidence=0.95),
        record("答非所问", conversation="c-c", turn=0, confidence=0.1),
        record("收到的杯子裂了", conversation="c-c", turn=1, intent="complain_quality", confidence=0.97),
        record("搞错了吧", conversation="c-c", turn=2, intent="nlu_fallback", confidence=0.1),
    ]
    found = {c.text: (c.reasons, c.conversation, c.turn) for c in mining.select_candidates(records, rules)}
    assert found == {
        "运费险怎么赔": (["corrected"], "c-a", 1),
        "收到的杯子裂了": (["corrected"], "c-c", 1),
    }


def test_identical_texts_are_kept_once_with_a_count_and_every_reason(rules):
    records = [
        record("能 保价吗", conversation="c-1", intent="nlu_fallback", confidence=0.7),
        record("能  保价吗 ", conversation="c-2", intent="complain_transaction", confidence=0.3),
        record("能 保价吗", conversation="c-3", intent="complain_transaction", confidence=0.95,
               escalated_next=True),
        record("能 保价吗", conversation="c-4", intent="complain_transaction", confidence=0.95),
    ]
    candidate, = mining.select_candidates(records, rules)
    assert candidate.text == "能 保价吗"
    assert candidate.count == 3
    assert candidate.reasons == ["fallback", "low_confidence", "before_escalation"]
    assert (candidate.conversation, candidate.intent, candidate.confidence) == ("c-1", "nlu_fallback", 0.7)


def test_a_repeated_message_alone_is_a_cluster_and_a_lone_one_a_singleton(rules, tmp_path):
    nlu = tmp_path / "nlu.yml"
    nlu.write_text('version: "3.1"\nnlu:\n- intent: complain_logistics\n  examples: |\n'
                   "    - 快递三天了还没发货\n    - 物流一直不更新\n- intent: greet\n  examples: |\n"
                   "    - 你好\n    - 在吗\n", encoding="utf-8")
    records = [record("快递怎么还不发货", conversation=f"c-{k}") for k in range(3)]
    records.append(record("直播间抽奖怎么参加", conversation="c-9"))
    result = mining.mine(records, load_nlu_examples(nlu), rules, progress=False)
    cluster, = result["clusters"]
    assert (cluster["size"], len(cluster["messages"])) == (3, 1)
    assert cluster["nearest_intent"] == "complain_logistics"
    assert [m["text"] for m in result["singletons"]] == ["直播间抽奖怎么参加"]
    assert mining.mine([], [], rules, progress=False)["clusters"] == []


def test_numbers_do_not_make_messages_alike():
    first = mining.features("单号381209475610293847")
    second = mining.features("满300减50")
    assert not {f for f in first if "#" in f} & {f for f in second if "#" in f} - {"w:#"}


# Export and command line -------------------------------------------------------------

def test_a_malformed_export_line_is_named(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text(json.dumps(record("你好")) + "\n\n" + '{"conversation": "c-1", "turn": 1,\n',
                    encoding="utf-8")
    with pytest.raises(mining.MineError, match=r"export.jsonl line 3: not valid JSON"):
        mining.read_jsonl(path)
    path.write_text(json.dumps(dict(record("你好"), turn="1")) + "\n", encoding="utf-8")
    with pytest.raises(mining.MineError, match=r"line 1: 'turn' must be a whole number"):
        mining.read_jsonl(path)


def test_cli_mines_an_export_and_prints_the_clusters(tmp_path, capsys):
    nlu = tmp_path / "nlu.yml"
    nlu.write_text('version: "3.1"\nnlu:\n- intent: complain_transaction\n  examples: |\n'
                   "    - 优惠券没给我用上\n    - 买完第二天就降价了，太坑了\n- intent: complain_logistics\n"
                   "  examples: |\n    - 快递三天了还没发货\n", encoding="utf-8")
    export = tmp_path / "export.jsonl"
    lines = [record(text, conversation=f"c-{k}") for k, text in enumerate(PRICE)]
    lines.append(record("/affirm", conversation="c-x", payload=True))
    export.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    out = tmp_path / "var" / "clusters.json"
    assert mining.cli([str(export), "--out", str(out), "--training", str(nlu)]) == 0
    printed = capsys.readouterr()
    assert "#1  8 messages, nearest intent complain_transaction" in printed.out
    assert "价保" in printed.out and "m1" in printed.out
    assert "tokenising" in printed.err  # progress on stderr, the summary alone on stdout
    saved = mining.load(out)
    assert saved["candidates"] == 8 and saved["source"] == str(export)


def test_cli_refuses_a_missing_or_broken_export_with_exit_2(tmp_path, capsys):
    assert mining.cli([str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "c.json")]) == 2
    assert "none.jsonl: cannot read the export" in capsys.readouterr().err
    broken = tmp_path / "broken.jsonl"
    broken.write_text("[1, 2]\n", encoding="utf-8")
    assert mining.cli([str(broken), "--out", str(tmp_path / "c.json")]) == 2
    assert "broken.jsonl line 1: must be a JSON object" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()


# Rules ----------------------------------------------------------------------------------

def test_the_shipped_trainer_rules_load(rules):
    assert 0 < rules.cluster_distance < 1 and 0 < rules.low_confidence < 1
    assert "不是这个意思" in rules.correction_phrases
    assert rules.min_cluster_size >= 1 and rules.representatives >= 1 and rules.gate_margin >= 0


@pytest.mark.parametrize("old, new, named", [
    ("cluster_distance: 0.8", "cluster_distance: 5", "mine.cluster_distance"),
    ("min_cluster_size: 2", "min_cluster_size: two", "mine.min_cluster_size"),
    ("margin: 0.02", "margin: -0.1", "gate.margin"),
    ("    - 答非所问", "    - {a: 1}", "mine.correction_phrases[4]"),
])
def test_a_bad_trainer_rule_is_named_with_its_line(tmp_path, old, new, named):
    text = (SHIPPED / "trainer.yml").read_text(encoding="utf-8")
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    path = tmp_path / "trainer.yml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(PolicyConfigError, match=re.escape(f"{named} (line {line})")):
        load_trainer_rules(path)


def test_a_missing_trainer_rule_is_named(tmp_path):
    text = (SHIPPED / "trainer.yml").read_text(encoding="utf-8")
    path = tmp_path / "trainer.yml"
    path.write_text(re.sub(r"\n  representatives: 5\n", "\n", text), encoding="utf-8")
    with pytest.raises(PolicyConfigError, match="mine .*missing key 'representatives'"):
        load_trainer_rules(path)
