"""spaCy EntityRuler over jieba tokens for shop vocabulary (product, defect, carrier).

Rasa-free. spaCy's blank `zh` pipeline tokenises with jieba, and so are the phrase
patterns: a term that jieba cuts differently alone than in a sentence never matches.
Each term is therefore added to jieba's dictionary before the patterns are built.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Sequence

import jieba
import spacy
import yaml
from spacy.language import Language

from bot.nlu.text_normalizer import normalize_text

LABELS = ("product", "defect", "carrier")
# High enough that jieba keeps a shop term whole next to common characters.
TERM_FREQUENCY = 20000


class PatternFileError(ValueError):
    """The entity pattern YAML is not what the ruler expects."""


@dataclass(frozen=True)
class Mention:
    label: str
    value: str
    start: int
    end: int


def load_patterns(path: Path | str) -> Dict[str, List[str]]:
    """Read `{label: [term, …]}` from YAML, validating labels and terms."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PatternFileError(f"cannot read entity patterns {path}: {error}") from error
    if not isinstance(data, dict):
        raise PatternFileError(f"{path}: expected a mapping of label → list of terms")
    patterns: Dict[str, List[str]] = {}
    for label, terms in data.items():
        if label not in LABELS:
            raise PatternFileError(f"{path}: unknown label '{label}', use one of {LABELS}")
        if not isinstance(terms, list) or not all(isinstance(t, str) and t.strip() for t in terms):
            raise PatternFileError(f"{path}: '{label}' must be a list of non-empty strings")
        # Terms are matched on normalised text, so they are normalised the same way.
        patterns[label] = sorted({normalize_text(t) for t in terms})
    return patterns


def build_ruler(patterns: Mapping[str, Sequence[str]]) -> Language:
    """A blank zh pipeline (jieba segmenter) with an EntityRuler for the patterns."""
    for terms in patterns.values():
        for term in terms:
            jieba.add_word(term, freq=TERM_FREQUENCY)
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(
        [{"label": label, "pattern": term} for label, terms in patterns.items() for term in terms]
    )
    return nlp


def find_mentions(nlp: Language, text: str) -> List[Mention]:
    return [Mention(e.label_, e.text, e.start_char, e.end_char) for e in nlp(text).ents]
