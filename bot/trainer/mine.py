"""Find what the model failed to understand in exported transcripts and group it.

An export (JSONL, one shopper message a line) → candidate messages (fell back, low
confidence, right before an escalation, or corrected by the shopper's next message) →
clusters of messages that say the same thing, each with its top terms, representative
messages and the nearest existing intent. A trainer reads the clusters file, drops what
is noise ("drop m12") and turns the rest into training examples.

`python -m bot.trainer mine export.jsonl --out var/trainer/clusters.json`
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import re
import sys
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

import numpy as np
from scipy import sparse
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_rows
from tqdm import tqdm

from bot.nlu.shop_tokens import tokens
from bot.nlu.text_normalizer import is_cjk, normalize_text
from bot.policy.errors import PolicyConfigError
from bot.trainer.rules import TrainerRules, load_trainer_rules

FALLBACK_INTENT = "nlu_fallback"
# In this order in every message's "reasons".
REASONS = ("fallback", "low_confidence", "before_escalation", "corrected", "keyword")
DEFAULT_TRAINING = Path(__file__).resolve().parents[2] / "data" / "nlu"
DEFAULT_OUT = Path("var") / "trainer" / "clusters.json"
TOP_TERMS = 8
SUMMARY_REPRESENTATIVES = 3
# Feature names carry their kind, so top terms can prefer words and a word never
# collides with a character n-gram of the same letters.
WORD = "w:"
CHAR = "c:"

PathLike = Union[str, "os.PathLike[str]"]


class MineError(ValueError):
    """An export or clusters file that cannot be read; the message names file and line."""


@dataclass
class Candidate:
    text: str
    reasons: List[str]
    intent: Optional[str]
    confidence: Optional[float]
    conversation: str
    turn: int
    count: int = 1
    # Where the message first appeared in the export; breaks ties so output is stable.
    first: int = field(default=0, repr=False)

    def as_json(self, message_id: str) -> Dict[str, Any]:
        return {"id": message_id, "text": self.text, "reasons": list(self.reasons),
                "intent": self.intent, "confidence": self.confidence,
                "conversation": self.conversation, "turn": self.turn, "count": self.count}


# Reading the export ------------------------------------------------------------------

def read_jsonl(path: PathLike) -> List[Dict[str, Any]]:
    """The export's records, checked field by field; a bad line is named."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise MineError(f"{path}: cannot read the export ({error.strerror or error})") from error
    records: List[Dict[str, Any]] = []
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise MineError(f"{path} line {number}: not valid JSON ({error.msg}, "
                                    f"column {error.colno})") from error
                problem = _record_problem(record)
                if problem:
                    raise MineError(f"{path} line {number}: {problem}")
                records.append(record)
        except UnicodeDecodeError as error:
            raise MineError(f"{path}: not UTF-8 text ({error.reason})") from error
    return records


def _record_problem(record: Any) -> Optional[str]:
    if not isinstance(record, dict):
        return "must be a JSON object, one message a line"
    conversation = record.get("conversation")
    if not isinstance(conversation, str) or not conversation:
        return "'conversation' must be a non-empty text"
    turn = record.get("turn")
    if isinstance(turn, bool) or not isinstance(turn, int):
        return "'turn' must be a whole number"
    if not isinstance(record.get("text"), (str, type(None))):
        return "'text' must be a text or null"
    if not isinstance(record.get("intent"), (str, type(None))):
        return "'intent' must be a text or null"
    confidence = record.get("confidence")
    if confidence is not None and (isinstance(confidence, bool) or not isinstance(confidence, (int, float))):
        return "'confidence' must be a number or null"
    for flag in ("escalated", "escalated_next", "payload"):
        if not isinstance(record.get(flag, False), bool):
            return f"'{flag}' must be true or false"
    return None


# Choosing candidates ------------------------------------------------------------------

def _is_payload(record: Mapping[str, Any]) -> bool:
    # A button press is the bot's own words, not the shopper's.
    return bool(record.get("payload")) or (record.get("text") or "").lstrip().startswith("/")


def _same_text(text: str) -> str:
    return " ".join(text.split())


def select_candidates(records: Iterable[Mapping[str, Any]], rules: TrainerRules,
                      keywords: Sequence[str] = ()) -> List[Candidate]:
    """Messages worth a trainer's look, identical texts merged (with a count). `keywords`:
    a trainer chasing a topic the model answers confidently but wrongly (价保 read as a
    transaction complaint) also gets every message that mentions one of them."""
    records = list(records)
    phrases = [normalize_text(p) for p in rules.correction_phrases]
    terms = [normalize_text(k) for k in keywords if k.strip()]

    def is_correction(record: Mapping[str, Any]) -> bool:
        if _is_payload(record):
            return False
        text = normalize_text(record.get("text") or "")
        return any(phrase in text for phrase in phrases)

    corrections: Set[int] = set()
    corrected: Set[int] = set()
    by_conversation: Dict[str, List[int]] = defaultdict(list)
    for index, record in enumerate(records):
        by_conversation[record["conversation"]].append(index)
    for indices in by_conversation.values():
        indices.sort(key=lambda i: (records[i]["turn"], i))
        for before, after in zip(indices, indices[1:]):
            if is_correction(records[after]):
                corrected.add(before)
        corrections.update(i for i in indices if is_correction(records[i]))

    merged: Dict[str, Candidate] = {}
    for index, record in enumerate(records):
        text = _same_text(record.get("text") or "")
        # "不是这个意思" says nothing about the topic; every correction would pile into
        # one useless cluster. Its message before is what the trainer needs.
        if not text or _is_payload(record) or index in corrections:
            continue
        confidence = record.get("confidence")
        reasons = {
            "fallback": record.get("intent") == FALLBACK_INTENT,
            "low_confidence": confidence is not None and confidence < rules.low_confidence,
            "before_escalation": bool(record.get("escalated_next")),
            "corrected": index in corrected,
            "keyword": bool(terms) and any(t in normalize_text(text) for t in terms),
        }
        if not any(reasons.values()):
            continue
        found = merged.get(text)
        if found is None:
            merged[text] = Candidate(
                text=text, reasons=[r for r in REASONS if reasons[r]], intent=record.get("intent"),
                confidence=None if confidence is None else float(confidence),
                conversation=record["conversation"], turn=record["turn"], first=index)
        else:
            found.count += 1
            found.reasons = [r for r in REASONS if r in found.reasons or reasons[r]]
    return list(merged.values())


# Features -----------------------------------------------------------------------------

_DIGITS = re.compile(r"\d+")
NUMBER = "#"


def _is_symbol(char: str) -> bool:
    return char.isspace() or unicodedata.category(char)[0] in ("P", "S", "C")


def _runs(text: str) -> List[str]:
    """Stretches of text between punctuation, emoji and spaces: character n-grams across
    a "！！😡" would match every angry message to every other."""
    runs, current = [], []
    for char in text:
        if _is_symbol(char):
            if current:
                runs.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        runs.append("".join(current))
    return runs


def _numbers_as_one(text: str) -> str:
    """Every run of digits as NUMBER: the character n-grams of two random order numbers
    share a dozen digit pairs, which would make "单号381209…" and "满300减50" look alike."""
    return _DIGITS.sub(NUMBER, text)


def features(text: str) -> List[str]:
    """Jieba word 1–2-grams and character 2–3-grams of the normalised text.

    Words carry meaning; character n-grams catch what jieba cuts differently in a typo
    or a new term (价报 vs 价保 still share 价)."""
    words = [_numbers_as_one(w) for w in tokens(text) if not all(_is_symbol(c) for c in w)]
    found = [WORD + w for w in words]
    found += [f"{WORD}{a} {b}" for a, b in zip(words, words[1:])]
    for run in _runs(normalize_text(text).lower()):
        run = _numbers_as_one(run)
        for size in (2, 3):
            found += [CHAR + run[i:i + size] for i in range(len(run) - size + 1)]
    return found


def _given(features_of_text: List[str]) -> List[str]:
    return features_of_text


def _display(feature: str) -> str:
    body = feature[len(WORD):] if feature.startswith(WORD) else feature[len(CHAR):]
    if feature.startswith(WORD) and " " in body:
        left, right = body.split(" ", 1)
        # Chinese words read as one phrase; Latin words need their space back.
        joiner = "" if is_cjk(left[-1]) or is_cjk(right[0]) else " "
        return left + joiner + right
    return body


def _kind(feature: str) -> int:
    """0 a word, 1 a pair of words, 2 a character n-gram: the order they read best in."""
    if not feature.startswith(WORD):
        return 2
    return 1 if " " in feature[len(WORD):] else 0


def top_terms(weights: Sequence[Tuple[str, float]], limit: int = TOP_TERMS) -> List[str]:
    """The readable heaviest features of a centroid.

    Words first, then pairs of words, then character n-grams; a feature lighter than a
    quarter of the heaviest only comes after every heavy one, so a rare word of one
    member never hides the cluster's topic. One-character terms (了, 能, 找) say nothing
    alone. A term inside a chosen one, a pair of chosen words, or a character n-gram
    overlapping a chosen word is skipped: fewer terms read better than fragments."""
    heaviest = max((w for _, w in weights), default=0.0)
    ranked = sorted(((f, w) for f, w in weights if w > 0),
                    key=lambda item: (_kind(item[0]) + (0 if item[1] >= heaviest / 4 else 3),
                                      -item[1], item[0]))
    chosen: List[str] = []
    for feature, _ in ranked:
        text = _display(feature)
        if len(text) < 2 or NUMBER in text or any(text in other for other in chosen):
            continue
        kind = _kind(feature)
        if kind == 1:
            words = [part for part in feature[len(WORD):].split(" ") if len(part) > 1]
            if all(any(part in other for other in chosen) for part in words):
                continue
        if kind == 2 and set(text) & set("".join(chosen)):
            continue
        chosen.append(text)
        if len(chosen) == limit:
            break
    return chosen


# Clustering ---------------------------------------------------------------------------

# scikit-learn 1.2 renamed `affinity` to `metric` (and 1.4 dropped the old name).
_METRIC_PARAMETER = ("metric" if "metric" in inspect.signature(AgglomerativeClustering).parameters
                     else "affinity")


def cluster_labels(vectors: sparse.csr_matrix, distance: float) -> np.ndarray:
    """Average-linkage clusters of L2-normalised rows under a cosine distance threshold.

    The cosine distances are computed here from the sparse rows and handed over as a
    precomputed matrix: the same clustering as metric="cosine", without making the
    (messages × whole vocabulary) matrix dense, and a message with no features (only
    emoji) is simply far from everything instead of an error."""
    count = vectors.shape[0]
    if count < 2:
        return np.zeros(count, dtype=int)
    similarity = (vectors @ vectors.T).toarray()
    distances = np.clip(1.0 - similarity, 0.0, 1.0)
    np.fill_diagonal(distances, 0.0)
    model = AgglomerativeClustering(n_clusters=None, distance_threshold=distance,
                                    linkage="average", **{_METRIC_PARAMETER: "precomputed"})
    return model.fit_predict(distances)


def _intent_centroids(vectors: sparse.csr_matrix, labels: Sequence[str]) -> Tuple[List[str], sparse.csr_matrix]:
    intents = sorted(set(labels))
    position = {intent: i for i, intent in enumerate(intents)}
    sizes = defaultdict(int)
    for label in labels:
        sizes[label] += 1
    averaging = sparse.csr_matrix(
        ([1.0 / sizes[label] for label in labels],
         ([position[label] for label in labels], list(range(len(labels))))),
        shape=(len(intents), len(labels)))
    return intents, l2_rows(averaging @ vectors)


def mine(records: Iterable[Mapping[str, Any]], training_examples: Iterable[Any], rules: TrainerRules,
         *, source: Optional[PathLike] = None, progress: bool = True,
         keywords: Sequence[str] = ()) -> Dict[str, Any]:
    """Candidates from `records`, clustered; `training_examples` (objects with .text and
    .label) give each cluster its nearest existing intent. The JSON-ready result."""
    candidates = select_candidates(records, rules, keywords)
    training = [(e.text, e.label) for e in training_examples if e.text and e.label]
    clusters: List[Tuple[List[Candidate], Dict[str, Any]]] = []
    singles: List[Candidate] = []
    if candidates:
        texts = [t for t, _ in training] + [c.text for c in candidates]
        analysed = [features(t) for t in tqdm(texts, desc="tokenising", unit="text", file=sys.stderr,
                                              disable=not progress)]
        # Fitted on both, so a term seen only in the new messages still counts and the
        # nearest intent is measured in the same space as the clusters.
        vectoriser = TfidfVectorizer(analyzer=_given, sublinear_tf=True, norm="l2")
        matrix = vectoriser.fit_transform(analysed).tocsr()
        names = vectoriser.get_feature_names_out()
        train_vectors, vectors = matrix[:len(training)], matrix[len(training):]
        intents, intent_vectors = (_intent_centroids(train_vectors, [l for _, l in training])
                                   if training else ([], None))
        labels = cluster_labels(vectors, rules.cluster_distance)
        groups: Dict[int, List[int]] = defaultdict(list)
        for index, label in enumerate(labels):
            groups[int(label)].append(index)
        kept = []
        for members in groups.values():
            if sum(candidates[i].count for i in members) >= rules.min_cluster_size:
                kept.append(members)
            else:
                singles.extend(candidates[i] for i in members)
        for members in tqdm(kept, desc="nearest intent", unit="cluster", file=sys.stderr,
                            disable=not progress or not kept):
            clusters.append(_describe(members, candidates, vectors, names, intents, intent_vectors, rules))
    clusters.sort(key=lambda c: (-c[1]["size"], -len(c[0]), min(m.first for m in c[0])))
    singles.sort(key=lambda c: (-c.count, c.first))

    numbered = 0

    def number(candidate: Candidate) -> Dict[str, Any]:
        nonlocal numbered
        numbered += 1
        return candidate.as_json(f"m{numbered}")

    result_clusters = []
    for position, (members, facts) in enumerate(clusters, start=1):
        messages = [number(m) for m in members]
        by_text = {m["text"]: m["id"] for m in messages}
        result_clusters.append({
            "id": position, "size": facts["size"], "top_terms": facts["top_terms"],
            "representatives": [{"id": by_text[t], "text": t} for t in facts["representatives"]],
            "nearest_intent": facts["nearest_intent"], "similarity": facts["similarity"],
            "messages": messages})
    return {
        "created": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
        "source": None if source is None else str(source),
        "candidates": sum(c.count for c in candidates),
        "unique": len(candidates),
        "cluster_distance": rules.cluster_distance,
        "clusters": result_clusters,
        "singletons": [number(c) for c in singles],
    }


def _describe(members: List[int], candidates: List[Candidate], vectors: sparse.csr_matrix,
              names: Sequence[str], intents: List[str], intent_vectors: Optional[sparse.csr_matrix],
              rules: TrainerRules) -> Tuple[List[Candidate], Dict[str, Any]]:
    rows = vectors[members]
    counts = np.array([candidates[i].count for i in members], dtype=float)
    # A message sent by many shoppers pulls the centroid harder: it is the common case.
    centroid = sparse.csr_matrix(counts / counts.sum()) @ rows
    unit = l2_rows(centroid)
    closeness = (rows @ unit.T).toarray().ravel()
    order = sorted(range(len(members)), key=lambda k: (-closeness[k], -counts[k], candidates[members[k]].first))
    ordered = [candidates[members[k]] for k in order]
    nearest, similarity = None, None
    if intent_vectors is not None and intents:
        scores = (intent_vectors @ unit.T).toarray().ravel()
        best = int(np.argmax(scores))
        nearest, similarity = intents[best], round(float(scores[best]), 3)
    centroid = centroid.tocoo()
    weights = [(str(names[j]), float(v)) for j, v in zip(centroid.col, centroid.data)]
    return ordered, {
        "size": int(counts.sum()),
        "top_terms": top_terms(weights),
        "representatives": [c.text for c in ordered[:rules.representatives]],
        "nearest_intent": nearest,
        "similarity": similarity,
    }


# The clusters file --------------------------------------------------------------------

def save(result: Mapping[str, Any], path: PathLike) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    # A reviewer may have the file open; never leave them half a file.
    os.replace(temporary, path)


def load(path: PathLike) -> Dict[str, Any]:
    """A clusters file (perhaps edited by a reviewer), checked enough to trust its ids."""
    path = Path(path)
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise MineError(f"{path}: cannot read the clusters file ({error.strerror or error})") from error
    except json.JSONDecodeError as error:
        raise MineError(f"{path} line {error.lineno}: not valid JSON ({error.msg})") from error
    except UnicodeDecodeError as error:
        raise MineError(f"{path}: not UTF-8 text ({error.reason})") from error
    if not isinstance(result, dict) or not isinstance(result.get("clusters"), list) \
            or not isinstance(result.get("singletons"), list):
        raise MineError(f"{path}: not a clusters file (needs 'clusters' and 'singletons' lists)")
    seen: Set[str] = set()
    messages = [m for c in result["clusters"] if isinstance(c, dict) for m in c.get("messages") or []]
    for message in messages + result["singletons"]:
        if not isinstance(message, dict) or not isinstance(message.get("id"), str) \
                or not isinstance(message.get("text"), str):
            raise MineError(f"{path}: every message needs an 'id' and a 'text', got {message!r}")
        if message["id"] in seen:
            raise MineError(f"{path}: message id {message['id']} appears twice")
        seen.add(message["id"])
    return result


# Command line -------------------------------------------------------------------------

def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def summary(result: Mapping[str, Any], limit: int = SUMMARY_REPRESENTATIVES) -> str:
    lines = [f"{_counted(result['candidates'], 'candidate message')} ({result.get('unique', '?')} distinct) "
             f"from {result.get('source') or 'the export'}: {_counted(len(result['clusters']), 'cluster')}, "
             f"{_counted(len(result['singletons']), 'singleton')}."]
    for cluster in result["clusters"]:
        nearest = (f"nearest intent {cluster['nearest_intent']} ({cluster['similarity']:.2f})"
                   if cluster.get("nearest_intent") else "no nearest intent")
        lines += ["", f"#{cluster['id']}  {_counted(cluster['size'], 'message')}, {nearest}",
                  f"    terms: {', '.join(cluster['top_terms'])}"]
        counts = {m["id"]: m.get("count", 1) for m in cluster["messages"]}
        for representative in cluster["representatives"][:limit]:
            times = counts.get(representative["id"], 1)
            lines.append(f"    {representative['id']:>5}  {representative['text']}"
                         + (f"  (×{times})" if times > 1 else ""))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot.trainer mine",
        description="Group the messages the model failed to understand in an export, "
                    "with the nearest existing intent of each group.")
    parser.add_argument("export", help="export JSONL, one shopper message a line")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"clusters JSON to write (default {DEFAULT_OUT})")
    parser.add_argument("--training", default=str(DEFAULT_TRAINING),
                        help="Rasa NLU YAML file or folder of the existing intents (default data/nlu)")
    parser.add_argument("--include", default="", metavar="WORD[,WORD…]",
                        help="also take every message mentioning one of these words (e.g. 价保,差价)")
    return parser


def cli(argv: List[str]) -> int:
    try:
        arguments = _parser().parse_args(argv)
    except SystemExit as stop:  # --help or a usage error, already printed
        return int(stop.code or 0)
    try:
        rules = load_trainer_rules()
        records = read_jsonl(arguments.export)
        training_path = Path(arguments.training)
        if not training_path.exists():
            raise MineError(f"{training_path}: no such training file or folder")
    except (MineError, PolicyConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        from bot.nlu.evaluation import load_nlu_examples  # imports Rasa: only when mining
        training = load_nlu_examples(training_path)
    except Exception as error:  # Rasa's loaders raise many kinds; all mean "fix this file"
        print(f"error: {training_path}: cannot read the training data ({error})", file=sys.stderr)
        return 2
    keywords = [k.strip() for k in arguments.include.split(",") if k.strip()]
    result = mine(records, training, rules, source=arguments.export, keywords=keywords)
    try:
        save(result, arguments.out)
    except OSError as error:
        print(f"error: {arguments.out}: cannot write ({error.strerror or error})", file=sys.stderr)
        return 2
    print(summary(result))
    print(f"\nSaved to {arguments.out}; drop a message by its id (for example m12).")
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
