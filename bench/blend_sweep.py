"""Choosing config.yml's LinearIntentBlend `weight` and FallbackClassifier `threshold`
and `ambiguity_threshold`
on the development sets, from one trained model: each setting is put on the loaded
components and the sets are parsed again, so no retraining is needed per setting.

Scored, per setting: class macro-F1 on the review-register dev sets we wrote
(tests/data/nlu_reviews_dev.yml, dev2) and on the one shoppers wrote
(nlu_reviews_dev_real.yml), intent macro-F1 on the held-out set, and the live-room triage
on tests/data/liveroom_heldout.yml (recall, chatter answered). Never run on
../shared/eval: that file scores a choice made here, it does not make it.

    python -m bench.blend_sweep [--model models/assistant.tar.gz]
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from bot.channels.liveroom import parse_batch
from bot.liveroom.screen import Screen, linear_model_from_archive
from bot.liveroom.triage import PRIVATE_INTENTS, liveroom_rules, triage_texts
from bot.nlu.evaluation import CLASSES, ModelParser, class_of_intent, load_nlu_examples, score
from bot.nlu.linear_intent import LinearIntentBlend

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
REAL_DEV = DATA / "nlu_reviews_dev_real.yml"
WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
THRESHOLDS = (0.3, 0.4)
AMBIGUITY = (0.0, 0.05)


def components(agent) -> Dict[str, object]:
    """The loaded blend and fallback components of the model's NLU graph."""
    from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier

    found = {}
    for node in agent.processor.graph_runner._instantiated_nodes.values():
        component = getattr(node, "_component", None)
        if isinstance(component, LinearIntentBlend):
            found["blend"] = component
        elif isinstance(component, FallbackClassifier):
            found["fallback"] = component
    if set(found) != {"blend", "fallback"}:
        raise SystemExit("the model has no LinearIntentBlend or FallbackClassifier: trained with config.yml?")
    return found


def intents(agent, texts: Sequence[str]) -> List[str]:
    out: List[str] = []
    for offset in range(0, len(texts), 64):
        out += [p["intent"]["name"] for p in parse_batch(agent, list(texts[offset:offset + 64]))]
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser_ = argparse.ArgumentParser(prog="python -m bench.blend_sweep")
    parser_.add_argument("--model", default=str(ROOT / "models" / "assistant.tar.gz"))
    args = parser_.parse_args(argv)
    model = ModelParser(args.model)
    parts = components(model.agent)
    # Written by us (dev, dev2) and written by shoppers (dev_real), scored apart: the
    # written sets did not predict how the model fares on real reviews; dev_real does.
    reviews = [e for path in sorted(DATA.glob("nlu_reviews_dev*.yml")) if path != REAL_DEV
               for e in load_nlu_examples(path)]
    real = load_nlu_examples(REAL_DEV)
    heldout = load_nlu_examples(DATA / "nlu_heldout.yml")
    liveroom = load_nlu_examples(DATA / "liveroom_heldout.yml")
    rules = liveroom_rules()
    screen = Screen(linear_model_from_archive(Path(args.model)), PRIVATE_INTENTS)
    live_texts = [e.text for e in liveroom]
    live_scores = screen.scores(live_texts)
    heldout_labels = sorted({e.label for e in heldout})
    print(f"written review dev sets n={len(reviews)}, real review dev set n={len(real)}, "
          f"held-out n={len(heldout)}, live-room held-out n={len(liveroom)}")
    print(f"{'weight':>7}{'threshold':>10}{'ambiguity':>10}{'written F1':>12}{'real F1':>9}"
          f"{'held-out F1':>13}{'live recall':>13}{'chatter':>9}")
    for ambiguity, threshold, weight in itertools.product(AMBIGUITY, THRESHOLDS, WEIGHTS):
        parts["blend"]._config["weight"] = weight
        parts["fallback"].component_config["threshold"] = threshold
        parts["fallback"].component_config["ambiguity_threshold"] = ambiguity
        review_f1, real_f1 = (
            score([class_of_intent(e.label) for e in examples],
                  [class_of_intent(i) for i in intents(model.agent, [e.text for e in examples])],
                  CLASSES).macro_f1
            for examples in (reviews, real))
        heldout_f1 = score([e.label for e in heldout], intents(model.agent, [e.text for e in heldout]),
                           heldout_labels).macro_f1
        private, _ = triage_texts(live_texts, live_scores, lambda some: parse_batch(model.agent, some), rules)
        must = [p for e, p in zip(liveroom, private) if e.label in PRIVATE_INTENTS]
        chatter = sum(p is not None for e, p in zip(liveroom, private) if e.label not in PRIVATE_INTENTS)
        recall = sum(p is not None for p in must) / len(must)
        print(f"{weight:7.2f}{threshold:10.2f}{ambiguity:10.2f}{review_f1:12.3f}{real_f1:9.3f}{heldout_f1:13.3f}{recall:13.3f}{chatter:9d}")
    model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
