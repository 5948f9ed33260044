"""Choosing config.yml's LinearIntentBlend `C` and `balance` with DIET held fixed.

Retraining the whole model moves DIET too, and a DIET retrain alone moves the dev-set
scores by up to .02; so each setting's linear model is trained here on data/nlu and
swapped into one trained pipeline, which then parses the dev sets with the blend
weights given. Scored like bench/blend_sweep.py: class macro-F1 on the real review dev
set and on the two written ones, intent macro-F1 on the held-out set; and the live room,
where the linear model is also the screen (bot/liveroom/screen.py): held-out complaints
and requests for a person the screen stops (tests/nlu/test_liveroom_screen.py asks for
none) and chatter in the sample stream sent private (bench/liveroom_bench.py; must stay
0). Never run on ../shared/eval. Each setting trains a logistic regression (a few
minutes on 2 cores).

    python -m bench.linear_sweep [--model models/assistant.tar.gz] [--c 10 30] [--balance 0 .5]
                                 [--weights .7 .8]
"""
from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import List, Optional, Sequence

from bench.blend_sweep import components, intents
from bench.liveroom_bench import STREAM, cascade, load_stream
from bot.liveroom.screen import Screen
from bot.liveroom.triage import PRIVATE_INTENTS, liveroom_rules
from bot.nlu.evaluation import CLASSES, ModelParser, class_of_intent, load_nlu_examples, score
from bot.nlu.linear_intent import LinearModel
from bot.nlu.shop_tokens import tokens

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SETS = (("real", "nlu_reviews_dev_real.yml"), ("written 1", "nlu_reviews_dev.yml"),
        ("written 2", "nlu_reviews_dev2.yml"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.linear_sweep")
    parser.add_argument("--model", default=str(ROOT / "models" / "assistant.tar.gz"))
    parser.add_argument("--c", type=float, nargs="+", default=[10.0, 30.0])
    parser.add_argument("--balance", type=float, nargs="+", default=[0.0, 0.5])
    parser.add_argument("--weights", type=float, nargs="+", default=[0.7, 0.8])
    args = parser.parse_args(argv)

    model = ModelParser(args.model)
    blend = components(model.agent)["blend"]
    seed, negators = blend._config["random_seed"], blend._config["negators"]
    training = load_nlu_examples(ROOT / "data" / "nlu")
    words = [tokens(e.text) for e in training]
    labels = [e.label for e in training]
    dev_sets = [(name, load_nlu_examples(DATA / file)) for name, file in SETS]
    heldout = load_nlu_examples(DATA / "nlu_heldout.yml")
    heldout_labels = sorted({e.label for e in heldout})
    private = [e.text for path in (DATA / "nlu_heldout.yml", DATA / "liveroom_heldout.yml")
               for e in load_nlu_examples(path) if e.label in PRIVATE_INTENTS]
    stream = load_stream(STREAM)
    chatter = [c["text"] for c in stream if c["label"] == "other"]
    rules = liveroom_rules()

    print(f"{'C':>6}{'balance':>9}{'weight':>8}" + "".join(f"{name:>11}" for name, _ in dev_sets)
          + f"{'held-out':>10}{'stopped':>9}{'chatter':>9}")
    for c, balance in itertools.product(args.c, args.balance):
        blend._model = LinearModel(c, seed, negators, balance).fit(words, labels)
        screen = Screen(blend._model, PRIVATE_INTENTS)
        stopped = [t for t, s in zip(private, screen.scores(private)) if s < rules.screen_threshold]
        for weight in args.weights:
            blend._config["weight"] = weight
            row: List[float] = []
            for _, examples in dev_sets:
                predicted = intents(model.agent, [e.text for e in examples])
                row.append(score([class_of_intent(e.label) for e in examples],
                                 [class_of_intent(i) for i in predicted], CLASSES).macro_f1)
            row.append(score([e.label for e in heldout], intents(model.agent, [e.text for e in heldout]),
                             heldout_labels).macro_f1)
            answered = [t for t, d in zip(chatter, cascade(model, screen, rules, chatter)[0]) if d]
            print(f"{c:6g}{balance:9g}{weight:8g}" + "".join(f"{v:11.3f}" for v in row[:-1])
                  + f"{row[-1]:10.3f}{len(stopped):9d}{len(answered):9d}", flush=True)
            if stopped:
                print(f"  stopped by the screen: {stopped[:5]}", flush=True)
            if answered:
                print(f"  chatter sent private: {answered[:5]}", flush=True)
    model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
