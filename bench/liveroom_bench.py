"""Live-room triage benchmark: how many comments a second the connector's triage
sustains on this machine with the real model, and its complaint recall and precision on
the recorded sample stream (data/liveroom/sample_stream.jsonl), next to the naive path —
every comment through Rasa's full message handling — measured in the same run, as ratios.

    python -m bench.liveroom_bench [--model models/assistant.tar.gz] [--naive-sample 600]

Positives are the comments labelled complaint or request_human (the ones that must get a
private conversation). Redeliveries are removed first, as the connector does.
"""
from __future__ import annotations

import argparse
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from bot.channels.liveroom import parse_batch
from bot.liveroom.screen import Screen, linear_model_from_archive
from bot.liveroom.triage import PRIVATE_INTENTS, LiveRoomRules, liveroom_rules, triage_texts
from bot.nlu.evaluation import ModelParser

ROOT = Path(__file__).resolve().parents[1]
STREAM = ROOT / "data" / "liveroom" / "sample_stream.jsonl"
BATCH = 64


def load_stream(path: Path) -> List[Dict]:
    seen, comments = set(), []
    for line in path.read_text(encoding="utf-8").splitlines():
        comment = json.loads(line)
        if comment["message_id"] not in seen:
            seen.add(comment["message_id"])
            comments.append(comment)
    return comments


def cascade(parser: ModelParser, screen: Screen, rules: LiveRoomRules,
            texts: Sequence[str]) -> Tuple[List[bool], float, int]:
    """The connector's triage: the batch screen, then the full pipeline for candidates."""
    decided: List[bool] = []
    parsed = 0
    start = time.perf_counter()
    for offset in range(0, len(texts), BATCH):
        batch = texts[offset:offset + BATCH]
        private, count = triage_texts(batch, screen.scores(batch),
                                      lambda some: parse_batch(parser.agent, some), rules)
        parsed += count
        decided.extend(p is not None for p in private)
    return decided, time.perf_counter() - start, parsed


def naive(parser: ModelParser, rules: LiveRoomRules, texts: Sequence[str],
          users: Sequence[str]) -> Tuple[List[bool], float]:
    """Every comment through Agent.handle_message (NLU, dialogue policies, the bot's
    answers; custom actions are not reachable here, so their time is not counted)."""
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    agent = parser.agent
    decided: List[bool] = []
    run = uuid.uuid4().hex[:6]
    start = time.perf_counter()
    for text, user in zip(texts, users):
        message = UserMessage(text, CollectingOutputChannel(), f"bench-{run}-{user}")
        parser.run(agent.handle_message(message))
        tracker = parser.run(agent.tracker_store.retrieve(message.sender_id))
        decided.append(rules.decide(tracker.latest_message.parse_data) is not None)
    return decided, time.perf_counter() - start


def recall_precision(gold: Sequence[bool], predicted: Sequence[bool]) -> Tuple[float, float]:
    tp = sum(g and p for g, p in zip(gold, predicted))
    return tp / max(1, sum(gold)), tp / max(1, sum(predicted))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser_ = argparse.ArgumentParser(prog="python -m bench.liveroom_bench")
    parser_.add_argument("--model", default=str(ROOT / "models" / "assistant.tar.gz"))
    parser_.add_argument("--stream", default=str(STREAM))
    parser_.add_argument("--naive-sample", type=int, default=600,
                         help="comments sent through the naive path (it is slow)")
    args = parser_.parse_args(argv)
    comments = load_stream(Path(args.stream))
    texts = [c["text"] for c in comments]
    gold = [c["label"] != "other" for c in comments]
    rules = liveroom_rules()
    model = ModelParser(args.model)
    screen = Screen(linear_model_from_archive(Path(args.model)), PRIVATE_INTENTS)
    model.parse("主播好")  # warm up both paths
    screen.scores(["主播好"])

    decided, seconds, parsed = cascade(model, screen, rules, texts)
    recall, precision = recall_precision(gold, decided)
    rate = len(texts) / seconds

    sample = min(args.naive_sample, len(texts))
    logging.getLogger("rasa").setLevel(logging.CRITICAL)
    naive_decided, naive_seconds = naive(model, rules, texts[:sample], [c["user_id"] for c in comments[:sample]])
    naive_rate = sample / naive_seconds
    full_decided = [rules.decide(model.parse(t)) is not None for t in texts]
    naive_recall, naive_precision = recall_precision(gold, full_decided)
    sample_recall, _ = recall_precision(gold[:sample], naive_decided)

    print(f"live-room triage on {len(texts)} comments ({sum(gold)} complaints or requests for a person)")
    print(f"{'':34}{'connector':>12}{'naive':>12}{'ratio':>9}")
    print(f"{'comments per second':34}{rate:12.1f}{naive_rate:12.1f}{rate / naive_rate:8.1f}x")
    print(f"{'recall (must go private)':34}{recall:12.3f}{naive_recall:12.3f}{recall / max(naive_recall, 1e-9):8.2f}x")
    print(f"{'precision':34}{precision:12.3f}{naive_precision:12.3f}{precision / max(naive_precision, 1e-9):8.2f}x")
    print(f"full pipeline ran on {parsed} of {len(texts)} comments ({parsed / len(texts):.1%}); "
          f"naive rate measured on {sample} comments (recall there {sample_recall:.3f}); "
          f"naive recall/precision from the full pipeline on all comments")
    missed = [t for t, g, d in zip(texts, gold, decided) if g and not d]
    print(f"missed: {len(missed)}" + (f" e.g. {missed[:5]}" if missed else ""))
    # Chatter the bot would answer in public: the acceptance asks for none.
    answered = [t for t, g, d in zip(texts, gold, decided) if d and not g]
    print(f"chatter answered: {len(answered)}" + (f" e.g. {answered[:5]}" if answered else ""))
    model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
