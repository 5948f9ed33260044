"""The pipeline's words outside Rasa: normalised text (bot.nlu.text_normalizer) cut by
jieba with the shop dictionary, as ShopJiebaTokenizer does inside the pipeline — for
code that scores or groups texts without a full parse (the live-room screen, the
trainer's clustering)."""
from __future__ import annotations

from pathlib import Path
from typing import List

import jieba

from bot.nlu.text_normalizer import normalize_text

DICTIONARY = Path(__file__).resolve().parent / "dictionary"
_dictionary_loaded = False


def load_shop_dictionary() -> None:
    # The pipeline's tokenizer loads the shop dictionary into jieba's default instance.
    global _dictionary_loaded
    if not _dictionary_loaded:
        for path in sorted(DICTIONARY.glob("*.txt")):
            jieba.load_userdict(str(path))
        _dictionary_loaded = True


def tokens(text: str) -> List[str]:
    """Lower-cased jieba words of the normalised text, without whitespace tokens."""
    load_shop_dictionary()
    return [t.lower() for t in jieba.lcut(normalize_text(text)) if t.strip()]
