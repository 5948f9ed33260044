"""The live-room screen (the trained model's linear classifier, read from the model
archive) lets every held-out complaint through to the full pipeline, and stops most
live-room chatter before it."""
from pathlib import Path

import pytest

from bot.liveroom.screen import Screen, linear_model_from_archive, tokens
from bot.liveroom.triage import PRIVATE_INTENTS, liveroom_rules
from bot.nlu.evaluation import load_nlu_examples

HELDOUT = Path(__file__).resolve().parents[1] / "data" / "nlu_heldout.yml"
# Written for this test; none of them is in the training data.
CHATTER = ["主播今天穿的这件好显白", "333333", "刚刚那个链接再上一次呗", "这个包有没有棕色的",
           "我抢到了！！开心😆", "主播声音好好听", "晚上几点下播", "🍉🍉🍉", "哈哈哈笑死",
           "宝宝们冲鸭"]


@pytest.fixture(scope="module")
def screen(trained_model):
    return Screen(linear_model_from_archive(trained_model), PRIVATE_INTENTS)


def test_every_held_out_complaint_passes_the_screen(screen):
    examples = [e for e in load_nlu_examples(HELDOUT) if e.label in PRIVATE_INTENTS]
    assert len(examples) >= 150
    threshold = liveroom_rules().screen_threshold
    stopped = [e.text for e, s in zip(examples, screen.scores([e.text for e in examples])) if s < threshold]
    assert not stopped


def test_most_chatter_stops_at_the_screen(screen):
    threshold = liveroom_rules().screen_threshold
    passed = [t for t, s in zip(CHATTER, screen.scores(CHATTER)) if s >= threshold]
    assert len(passed) <= len(CHATTER) // 3, passed


def test_the_screen_reads_text_as_the_pipeline_does():
    # Traditional → Simplified, full-width → half-width, no whitespace tokens.
    assert tokens("衣服開線了 ＡＢＣ") == tokens("衣服开线了 ABC")
    assert " " not in tokens("iPhone 14 Pro 屏幕碎了")


def test_a_model_archive_without_the_linear_classifier_is_named(tmp_path):
    import tarfile

    archive = tmp_path / "other.tar.gz"
    with tarfile.open(archive, "w:gz"):
        pass
    with pytest.raises(FileNotFoundError, match="other.tar.gz"):
        linear_model_from_archive(archive)
