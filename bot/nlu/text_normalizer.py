"""Normalise casual Chinese shopper text before tokenisation.

Pure Python (no Rasa): Traditional → Simplified, full-width → half-width, repeated
punctuation/emoji collapsed, whitespace next to Chinese characters removed (jieba emits
a whitespace token between Chinese and Latin text, RasaHQ/rasa#7910).

Every output character keeps the index of the input character it came from, so entity
annotations written against the raw text can be moved onto the normalised text.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import List, Tuple

import opencc

# Emoji presentation selectors and skin-tone modifiers carry no meaning for intent and
# would stop "👍🏻👍🏻" from collapsing like "👍👍".
_DROPPED = {"\ufe0e", "\ufe0f", "\u200d"} | {chr(c) for c in range(0x1F3FB, 0x1F400)}


@dataclass(frozen=True)
class Normalized:
    text: str
    # source[i] is the index in the raw text of normalised character i.
    source: Tuple[int, ...]

    def span(self, raw_start: int, raw_end: int) -> Tuple[int, int]:
        """Map a [start, end) span of the raw text onto the normalised text."""
        start = next((i for i, s in enumerate(self.source) if s >= raw_start), len(self.text))
        end = start
        while end < len(self.source) and self.source[end] < raw_end:
            end += 1
        return start, end


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2FA1F
        or 0x3000 <= code <= 0x303F  # CJK punctuation: 。、「」
        or 0xFF00 <= code <= 0xFFEF
    )


def _is_symbol(char: str) -> bool:
    """Punctuation, emoji and other symbols: the characters whose runs collapse."""
    return unicodedata.category(char)[0] in ("P", "S")


def to_simplified(text: str) -> str:
    """Traditional → Simplified, keeping one output character per input character."""
    converted = _converter().convert(text)
    if len(converted) == len(text):
        return converted
    # Phrase-level conversion changed the length; fall back to per-character conversion
    # so offsets stay aligned.
    return "".join(_converter().convert(c) if len(_converter().convert(c)) == 1 else c for c in text)


def to_halfwidth(char: str) -> str:
    code = ord(char)
    if code == 0x3000:
        return " "
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    return char


def normalize(raw: str) -> Normalized:
    """Return the normalised text and, for each of its characters, its raw index."""
    simplified = to_simplified(raw)
    chars: List[str] = []
    source: List[int] = []
    for index, char in enumerate(simplified):
        if char in _DROPPED:
            continue
        char = to_halfwidth(char)
        if char.isspace():
            char = " "
        if chars and char == chars[-1] and (_is_symbol(char) or char == " "):
            continue
        chars.append(char)
        source.append(index)

    # Whitespace touching a Chinese character (or at either end) carries nothing.
    kept_chars: List[str] = []
    kept_source: List[int] = []
    for i, char in enumerate(chars):
        if char == " ":
            before = chars[i - 1] if i > 0 else None
            after = chars[i + 1] if i + 1 < len(chars) else None
            if before is None or after is None or is_cjk(before) or is_cjk(after):
                continue
        kept_chars.append(char)
        kept_source.append(source[i])
    return Normalized("".join(kept_chars), tuple(kept_source))


def normalize_text(raw: str) -> str:
    return normalize(raw).text
