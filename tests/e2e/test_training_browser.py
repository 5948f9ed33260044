"""The console's Training page in a real browser (Debian Chromium through Playwright):
a trainer logs in, finds the cluster mined from shoppers' price-protection questions,
leaves one message out, rewords another and accepts the cluster as a new intent with a
reply; the NLU YAML, the domain and the rule land in the project, and the page shows
the cluster as accepted. An agent cannot open the page. The console runs alone against
a copy of the project, so nothing is written into the real training data."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import expect

from bot.console.users import ConsoleUser, hash_password, save_users
from bot.nlu.evaluation import load_nlu_examples
from bot.trainer import mine as mining
from bot.trainer.rules import load_trainer_rules
from tests.e2e.stack import wait_for

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
PORT = 29000
USERS = {"xiaoli": ("trainer", "小李", "xiaoli-password-1"), "xiaomei": ("agent", "小美", "xiaomei-password-1")}
PRICE = ["买完第二天就降价了 能补差价吗", "刚买三天就降了50 能价保吗", "价保怎么申请呀", "降价了能退差价不😭",
         "降价了可以补差价吗 我昨天刚买", "买完就降价 差价能退吗", "價保怎麼申請", "刚下单就降价了 给补差价吗"]


def records():
    talk = [(t, "nlu_fallback", 0.4) for t in PRICE] + [("快递三天没动了", "complain_logistics", 0.95),
                                                        ("你好", "greet", 0.99)]
    return [{"conversation": f"c-{n:012x}", "turn": 0, "timestamp": 1764640000.0 + n,
             "time": "2026-12-02T09:00:00+08:00", "channel": "rest", "text": text, "intent": intent,
             "confidence": confidence, "next_action": "utter_ask_clarify", "escalated": False,
             "escalated_next": False} for n, (text, intent, confidence) in enumerate(talk)]


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    work = tmp_path_factory.mktemp("training-console")
    project = work / "project"
    project.mkdir()
    for name in ("config.yml", "domain.yml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "data" / "nlu", project / "data" / "nlu")
    shutil.copytree(ROOT / "data" / "stories", project / "data" / "stories")
    trainer_dir = work / "trainer"
    result = mining.mine(records(), load_nlu_examples(ROOT / "data" / "nlu"), load_trainer_rules(), progress=False)
    mining.save(result, trainer_dir / "clusters.json")
    users = work / "users.yml"
    save_users(users, {n: ConsoleUser(n, role, display, hash_password(pw)) for n, (role, display, pw) in USERS.items()})
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "CONSOLE_PORT": str(PORT),
           "DATABASE_URL": f"sqlite:///{work / 'cases.db'}", "MEDIA_DIR": str(work / "media"),
           "CONSOLE_USERS_FILE": str(users), "TRAINER_DIR": str(trainer_dir),
           "TRAINER_PROJECT_DIR": str(project), "AGENT_API_TOKEN": "training-test-token"}
    log = open(work / "console.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "bot.console"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(f"http://localhost:{PORT}/health", process, seconds=60)
        yield {"base": f"http://localhost:{PORT}", "project": project, "clusters": trainer_dir / "clusters.json"}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def log_in(page, base: str, name: str) -> None:
    page.goto(f"{base}/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", USERS[name][2])
    page.click("button[type=submit]")


def test_an_agent_cannot_open_the_training_page(console, browser):
    page = browser.new_page()
    log_in(page, console["base"], "xiaomei")
    expect(page).to_have_url(re.compile(r"/console/queue"))
    page.goto(f"{console['base']}/console/training")
    expect(page.locator("body")).to_contain_text("仅限训练师")
    page.close()


def test_a_trainer_accepts_a_cluster_as_a_new_intent(console, browser):
    RESULTS.mkdir(exist_ok=True)
    page = browser.new_page()
    log_in(page, console["base"], "xiaoli")
    expect(page).to_have_url(re.compile(r"/console/training"))  # a trainer lands on the Training page
    result = mining.load(console["clusters"])
    cluster = next(c for c in result["clusters"] if any("差价" in m["text"] for m in c["messages"]))
    messages = cluster["messages"]
    assert len(messages) >= 3 and all(m["text"] in PRICE for m in messages)
    section = page.locator(f"#cluster-{cluster['id']}")
    expect(section).to_contain_text("差价")

    dropped, edited = messages[-1], messages[0]
    section.locator(f"input[name=keep_{dropped['id']}]").uncheck()
    section.locator(f"input[name=text_{edited['id']}]").fill("价保怎么申请啊")
    section.locator("input[name=new_intent]").fill("ask_price_protection")
    section.locator("textarea[name=response]").fill("亲，下单后7天内降价可以申请价保，差价原路退回😊")
    page.screenshot(path=str(RESULTS / "console_training.png"), full_page=True)
    section.locator("button[type=submit]").click()

    expect(page.locator(".flash")).to_contain_text("ask_price_protection")
    expect(page.locator(f"#cluster-{cluster['id']}")).to_contain_text("已接受为 ask_price_protection（xiaoli）")
    project = console["project"]
    written = {e.text for e in load_nlu_examples(project / "data" / "nlu" / "trainer_ask_price_protection.yml")}
    test_file = project / "tests" / "data" / "trainer" / "ask_price_protection.yml"
    held_out = {e.text for e in load_nlu_examples(test_file)} if test_file.exists() else set()  # 5+ kept
    assert "价保怎么申请啊" in written | held_out and edited["text"] not in written | held_out
    assert dropped["text"] not in written | held_out
    assert len(written | held_out) == len(messages) - 1
    domain = yaml.safe_load((project / "domain.yml").read_text(encoding="utf-8"))
    assert "ask_price_protection" in domain["intents"]
    assert domain["responses"]["utter_ask_price_protection"][0]["text"].startswith("亲，下单后7天内")
    rules = (project / "data" / "stories" / "trainer_rules.yml").read_text(encoding="utf-8")
    assert "utter_ask_price_protection" in rules
    # The real project is untouched.
    assert not (ROOT / "data" / "nlu" / "trainer_ask_price_protection.yml").exists()
    page.close()
