"""Review: a trainer's decision on a mined cluster becomes Rasa YAML that `rasa data
validate` accepts — examples of an existing intent, or a new intent with its domain
entry, response and rule; a new intent without a reply is flagged until it gets one."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.nlu.evaluation import load_nlu_examples
from bot.trainer import mine as mining
from bot.trainer.review import PLACEHOLDER, Decision, Project, ReviewError, accept, cli, respond, respond_cli

ROOT = Path(__file__).resolve().parents[2]
RASA = str(Path(sys.executable).with_name("rasa"))
PRICE = ["买完第二天就降价了 能补差价吗", "刚买就降了50 可以价保吗", "價保怎麼申請", "降价了能退差价不😭",
         "保价期是几天啊", "昨天买的今天便宜了30 给补吗", "有价保吗 买亏了", "降价补差价怎么操作"]


MORE_PRICE = ["保价期多久呀", "超过七天还能保价吗"]


def clusters_file() -> dict:
    messages = [{"id": f"m{i}", "text": t, "reasons": ["fallback"], "intent": "nlu_fallback",
                 "confidence": 0.4, "conversation": f"c-{i:012x}", "turn": 0, "count": 1}
                for i, t in enumerate(PRICE, start=1)]
    logistics = [{"id": "m20", "text": "快递五天了还在转运中 一直不动", "reasons": ["low_confidence"],
                  "intent": "complain_logistics", "confidence": 0.5, "conversation": "c-1", "turn": 1, "count": 1},
                 {"id": "m21", "text": "物流停在中转站三天了没更新", "reasons": ["low_confidence"],
                  "intent": "complain_logistics", "confidence": 0.5, "conversation": "c-2", "turn": 1, "count": 1}]
    return {"created": "2026-12-02T10:00:00+08:00", "source": "export.jsonl", "candidates": 10, "unique": 10,
            "clusters": [{"id": 1, "size": 8, "top_terms": ["价保", "差价"], "nearest_intent": "complain_transaction",
                          "similarity": 0.2, "representatives": [{"id": "m1", "text": PRICE[0]}], "messages": messages},
                         {"id": 2, "size": 2, "top_terms": ["物流"], "nearest_intent": "complain_logistics",
                          "similarity": 0.5, "representatives": [{"id": "m20", "text": logistics[0]["text"]}],
                          "messages": logistics},
                         {"id": 3, "size": 2, "top_terms": ["保价"], "nearest_intent": "complain_transaction",
                          "similarity": 0.2, "representatives": [{"id": "m30", "text": MORE_PRICE[0]}],
                          "messages": [{"id": f"m{30 + k}", "text": t, "reasons": ["fallback"],
                                        "intent": "nlu_fallback", "confidence": 0.4, "conversation": "c-3",
                                        "turn": k, "count": 1} for k, t in enumerate(MORE_PRICE)]}],
            "singletons": []}


@pytest.fixture
def project(tmp_path) -> Project:
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "data" / "nlu", tmp_path / "data" / "nlu")
    shutil.copytree(ROOT / "data" / "stories", tmp_path / "data" / "stories")
    return Project(tmp_path)


def validate(project: Project) -> subprocess.CompletedProcess:
    return subprocess.run([RASA, "data", "validate", "--fail-on-warnings", "--domain", "domain.yml",
                           "--data", "data", "--config", "config.yml"],
                          cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_cluster_becomes_examples_of_an_existing_intent(project):
    result = clusters_file()
    accepted = accept(project, result, Decision(cluster=2, intent="complain_logistics", by="xiaoli"))
    written = load_nlu_examples(project.nlu / "trainer_complain_logistics.yml")
    assert {e.text for e in written} == {"快递五天了还在转运中 一直不动", "物流停在中转站三天了没更新"}
    assert {e.label for e in written} == {"complain_logistics"}
    assert accepted.held_out == []  # too few to hold any back
    assert result["clusters"][1]["review"]["by"] == "xiaoli"
    # The same cluster cannot be accepted twice.
    with pytest.raises(ReviewError, match="already accepted"):
        accept(project, result, Decision(cluster=2, intent="complain_logistics"))


def test_dropped_and_edited_messages_and_held_out_examples(project):
    result = clusters_file()
    accepted = accept(project, result, Decision(
        cluster=1, intent="complain_transaction", drop=frozenset({"m2"}), edits={"m3": "价保怎么申请"}))
    training = {e.text for e in load_nlu_examples(project.nlu / "trainer_complain_transaction.yml")}
    tests = {e.text for e in load_nlu_examples(project.tests / "complain_transaction.yml")}
    assert PRICE[1] not in training | tests  # dropped
    assert "价保怎么申请" in training | tests and PRICE[2] not in training | tests  # edited
    assert len(tests) == 1 and not training & tests  # every fourth of 7 kept
    assert len(accepted.examples) + len(accepted.held_out) == 7


def test_a_new_intent_with_a_reply_is_valid_rasa_data(project):
    result = clusters_file()
    accepted = accept(project, result, Decision(cluster=1, intent="ask_price_protection", new_intent=True,
                                                response="亲，下单后7天内降价可以申请价保补差价😊"))
    assert not accepted.placeholder
    domain = yaml.safe_load(project.domain.read_text(encoding="utf-8"))
    assert "ask_price_protection" in domain["intents"]
    assert domain["responses"]["utter_ask_price_protection"] == [{"text": "亲，下单后7天内降价可以申请价保补差价😊"}]
    # Everything else in the domain is byte for byte as it was (comments, emoji, quoting).
    original = (ROOT / "domain.yml").read_text(encoding="utf-8").splitlines()
    assert [line for line in project.domain.read_text(encoding="utf-8").splitlines() if line not in original] == [
        "  - ask_price_protection", "  utter_ask_price_protection:",
        '    - text: "亲，下单后7天内降价可以申请价保补差价😊"']
    rules = yaml.safe_load(project.rules.read_text(encoding="utf-8"))["rules"]
    assert rules[0]["steps"] == [{"intent": "ask_price_protection"}, {"action": "utter_ask_price_protection"}]
    checked = validate(project)
    assert checked.returncode == 0, checked.stdout[-3000:]


def test_a_new_intent_without_a_reply_is_flagged_until_it_gets_one(project):
    accepted = accept(project, clusters_file(), Decision(cluster=1, intent="ask_price_protection", new_intent=True))
    assert accepted.placeholder
    text = project.domain.read_text(encoding="utf-8")
    assert "ask_price_protection" in yaml.safe_load(text)["intents"] and PLACEHOLDER in text
    flagged = validate(project)
    assert flagged.returncode != 0 and "utter_ask_price_protection" in flagged.stdout
    assert respond_cli(["ask_price_protection", "亲，降价7天内可申请补差价", "--root", str(project.root)]) == 0
    checked = validate(project)
    assert checked.returncode == 0, checked.stdout[-3000:]


@pytest.mark.parametrize("decision, message", [
    (Decision(cluster=9, intent="complain_logistics"), "no cluster #9"),
    (Decision(cluster=1, intent="ask_nothing"), "not an intent"),
    (Decision(cluster=1, intent="nlu_fallback"), "not an intent"),
    (Decision(cluster=1, intent="Ask Price!", new_intent=True), "not a usable intent name"),
    (Decision(cluster=1, intent="greet", new_intent=True), "already exists"),
    (Decision(cluster=1, intent="complain_transaction", drop=frozenset({"m99"})), "no message m99"),
    (Decision(cluster=2, intent="ask_logistics", new_intent=True, drop=frozenset({"m20"})), "at least two"),
])
def test_a_decision_that_cannot_be_carried_out_is_refused_and_writes_nothing(project, decision, message):
    before = project.domain.read_text(encoding="utf-8")
    files = sorted(project.root.rglob("*.yml"))
    with pytest.raises(ReviewError, match=message):
        accept(project, clusters_file(), decision)
    assert project.domain.read_text(encoding="utf-8") == before
    assert sorted(project.root.rglob("*.yml")) == files


def test_messages_already_in_the_training_data_are_skipped(project):
    known = load_nlu_examples(project.nlu / "complain_logistics.yml")[0].text
    result = clusters_file()
    result["clusters"][1]["messages"][0]["text"] = known
    accepted = accept(project, result, Decision(cluster=2, intent="complain_logistics"))
    assert accepted.skipped == [known] and known not in accepted.examples


def test_the_command_line_accepts_a_cluster_and_records_it(project, tmp_path, capsys):
    path = tmp_path / "clusters.json"
    mining.save(clusters_file(), path)
    assert cli(["--clusters", str(path), "--cluster", "1", "--new-intent", "ask_price_protection",
                "--response", "亲，降价7天内可申请补差价", "--drop", "m8", "--edit", "m3=价保怎么申请",
                "--by", "xiaoli", "--root", str(project.root)]) == 0
    assert "ask_price_protection" in capsys.readouterr().out
    assert mining.load(path)["clusters"][0]["review"]["intent"] == "ask_price_protection"
    assert cli(["--clusters", str(path), "--cluster", "1", "--intent", "greet", "--root", str(project.root)]) == 2
    assert "already accepted" in capsys.readouterr().err
    assert respond(project, "ask_price_protection", "新的回复")  # a reply can be changed later


def test_several_clusters_of_one_topic_become_one_new_intent(project, tmp_path, capsys):
    path = tmp_path / "clusters.json"
    mining.save(clusters_file(), path)
    assert cli(["--clusters", str(path), "--cluster", "1,3", "--new-intent", "ask_price_protection",
                "--response", "亲，降价7天内可申请补差价", "--drop", "m31", "--root", str(project.root)]) == 0
    training = {e.text for e in load_nlu_examples(project.nlu / "trainer_ask_price_protection.yml")}
    tests = {e.text for e in load_nlu_examples(project.tests / "ask_price_protection.yml")}
    assert training | tests == set(PRICE) | {MORE_PRICE[0]} and not training & tests
    assert len(tests) == 2  # every fourth of the 9 kept, across both clusters
    saved = mining.load(path)["clusters"]
    assert saved[0]["review"]["clusters"] == [1, 3] and saved[2]["review"]["intent"] == "ask_price_protection"
    assert "review" not in saved[1]
    # A message id from neither cluster is refused before anything is written.
    mining.save(clusters_file(), path)
    assert cli(["--clusters", str(path), "--cluster", "2", "--intent", "complain_logistics", "--drop", "m1",
                "--root", str(project.root)]) == 2
    assert "no message m1" in capsys.readouterr().err
