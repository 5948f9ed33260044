"""NLU benchmark: the trained assistant against a TF-IDF + logistic regression baseline.

Both are trained in this run, the assistant the way `make train` trains it and the
baseline on data/nlu, and scored on
  - the held-out set (tests/data/nlu_heldout.yml), intent by intent,
  - the review-register dev sets (tests/data/nlu_reviews_dev*.yml) used to choose settings, and
  - the real shopper reviews in ../shared/eval/real_shopper_texts.tsv (read at run time,
    never copied or trained on), mapped onto the six complaint classes;
plus training time and per-message parse latency. Every number is printed next to the
baseline's and their ratio, so a noisy machine moves both sides alike.

    python -m bench.nlu_bench [--config config.yml] [--model models/x.tar.gz]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from bot.nlu.evaluation import (
    CLASSES,
    Example,
    ModelParser,
    Scores,
    class_of_intent,
    lenient_accuracy,
    load_nlu_examples,
    load_shopper_texts,
    median,
    percentile,
    score,
)
from bot.nlu.text_normalizer import normalize_text

ROOT = Path(__file__).resolve().parent.parent
TRAINING_DATA = ROOT / "data" / "nlu"
HELDOUT = ROOT / "tests" / "data" / "nlu_heldout.yml"
REVIEWS_DEV = sorted((ROOT / "tests" / "data").glob("nlu_reviews_dev*.yml"))
SHOPPER_TEXTS = ROOT.parent / "shared" / "eval" / "real_shopper_texts.tsv"


class Baseline:
    """Character 1–3-gram TF-IDF and logistic regression on the same training data."""

    def __init__(self) -> None:
        self.pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True),
            LogisticRegression(max_iter=2000, C=10.0),
        )

    def fit(self, examples: Sequence[Example]) -> None:
        self.pipeline.fit([normalize_text(e.text) for e in examples], [e.label for e in examples])

    def intents(self, texts: Sequence[str]) -> List[str]:
        return list(self.pipeline.predict([normalize_text(t) for t in texts]))

    def timed_intents(self, texts: Sequence[str]):
        intents, seconds = [], []
        for text in texts:
            start = time.perf_counter()
            intents.append(self.pipeline.predict([normalize_text(text)])[0])
            seconds.append(time.perf_counter() - start)
        return intents, seconds


def train_model(config: Path, out: Path) -> float:
    """Trains the way `make train` does. `rasa train nlu` alone gives a different model:
    a full training also fits the featurizers on the stories' text and action names, and
    DIET then starts from other weights (real shopper texts .761 against .775 for the
    model `make run` serves). The full training is reproducible: a fresh clone's model
    scores the same to the last digit."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "rasa", "train", "--config", str(config), "--domain",
         str(ROOT / "domain.yml"), "--data", str(ROOT / "data"), "--out", str(out),
         "--fixed-model-name", "bench", "--force"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )
    return time.perf_counter() - start


def ratio(model: float, baseline: float) -> str:
    return f"{model / baseline:.2f}x" if baseline else "n/a"


def print_scores(title: str, labels: Sequence[str], model: Scores, base: Scores) -> None:
    print(f"\n{title} (n={model.count})")
    print(f"  {'':<22}{'model':>8}{'baseline':>10}{'ratio':>8}")
    print(f"  {'macro-F1':<22}{model.macro_f1:>8.3f}{base.macro_f1:>10.3f}{ratio(model.macro_f1, base.macro_f1):>8}")
    print(f"  {'accuracy':<22}{model.accuracy:>8.3f}{base.accuracy:>10.3f}{ratio(model.accuracy, base.accuracy):>8}")
    for label in labels:
        m, b = model.per_label[label], base.per_label[label]
        print(f"  {'F1 ' + label:<22}{m:>8.3f}{b:>10.3f}{ratio(m, b):>8}")


def print_confusion(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> None:
    """Rows: true class; columns: predicted class."""
    width = max(len(label) for label in labels) + 2
    print("  confusion (rows true, columns predicted)")
    print("  " + " " * width + "".join(f"{label[:6]:>8}" for label in labels))
    for row in labels:
        counts = [sum(g == row and p == col for g, p in zip(gold, predicted)) for col in labels]
        print(f"  {row:<{width}}" + "".join(f"{c:>8}" for c in counts))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yml")
    parser.add_argument("--model", type=Path, help="score this model instead of training one")
    parser.add_argument("--shopper-texts", type=Path, default=SHOPPER_TEXTS)
    args = parser.parse_args(argv)

    training = load_nlu_examples(TRAINING_DATA)
    heldout = load_nlu_examples(HELDOUT)
    shoppers = load_shopper_texts(args.shopper_texts) if args.shopper_texts.exists() else []

    baseline = Baseline()
    start = time.perf_counter()
    baseline.fit(training)
    baseline_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model
        model_seconds = None
        if model_path is None:
            model_seconds = train_model(args.config, Path(tmp))
            model_path = Path(tmp) / "bench.tar.gz"
        model = ModelParser(model_path)

        print(f"training examples: {len(training)}; held-out: {len(heldout)}; "
              f"real shopper texts: {len(shoppers) or 'missing ' + str(args.shopper_texts)}")

        intents = sorted({e.label for e in heldout})
        predicted, model_latency = model.timed_intents([e.text for e in heldout])
        base_predicted, base_latency = baseline.timed_intents([e.text for e in heldout])
        gold = [e.label for e in heldout]
        print_scores("Held-out set, by intent", intents,
                     score(gold, predicted, intents), score(gold, base_predicted, intents))
        gold6 = [class_of_intent(i) for i in gold]
        print_scores("Held-out set, by class", CLASSES,
                     score(gold6, [class_of_intent(i) for i in predicted], CLASSES),
                     score(gold6, [class_of_intent(i) for i in base_predicted], CLASSES))

        for dev_set in REVIEWS_DEV:
            reviews = load_nlu_examples(dev_set)
            gold = [class_of_intent(e.label) for e in reviews]
            texts = [e.text for e in reviews]
            print_scores(f"Review-register dev set (tests/data/{dev_set.name}), by class", CLASSES,
                         score(gold, [class_of_intent(i) for i in model.intents(texts)], CLASSES),
                         score(gold, [class_of_intent(i) for i in baseline.intents(texts)], CLASSES))

        if shoppers:
            texts = [e.text for e in shoppers]
            model6 = [class_of_intent(i) for i in model.intents(texts)]
            base6 = [class_of_intent(i) for i in baseline.intents(texts)]
            gold = [e.label for e in shoppers]
            print_scores("Real shopper texts (../shared/eval), by class", CLASSES,
                         score(gold, model6, CLASSES), score(gold, base6, CLASSES))
            lm, lb = lenient_accuracy(shoppers, model6), lenient_accuracy(shoppers, base6)
            print(f"  {'lenient accuracy':<22}{lm:>8.3f}{lb:>10.3f}{ratio(lm, lb):>8}")
            print_confusion(gold, model6, CLASSES)
        model.close()

    print("\nSpeed")
    print(f"  {'':<22}{'model':>10}{'baseline':>10}{'ratio':>8}")
    for name, values_m, values_b in [("parse median (ms)", median(model_latency), median(base_latency)),
                                     ("parse p95 (ms)", percentile(model_latency, 0.95), percentile(base_latency, 0.95))]:
        print(f"  {name:<22}{values_m * 1000:>10.1f}{values_b * 1000:>10.1f}{ratio(values_m, values_b):>8}")
    if model_seconds is not None:
        print(f"  {'training (s)':<22}{model_seconds:>10.1f}{baseline_seconds:>10.1f}"
              f"{ratio(model_seconds, baseline_seconds):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
