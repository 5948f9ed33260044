"""The complaint form's questions and re-ask reasons, read from form_replies.yml."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Union

import yaml

REPLIES_FILE = Path(__file__).with_name("form_replies.yml")


class FormReplyConfigError(ValueError):
    """form_replies.yml is missing a text or has the wrong shape."""


@lru_cache(maxsize=1)
def form_replies() -> Dict[str, Union[str, List[str]]]:
    data = yaml.safe_load(REPLIES_FILE.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise FormReplyConfigError(f"{REPLIES_FILE.name}: expected a mapping of texts")
    buttons = data.get("remedy_buttons")
    if not isinstance(buttons, list) or not all(isinstance(b, str) for b in buttons):
        raise FormReplyConfigError(f"{REPLIES_FILE.name}: remedy_buttons must be a list of titles")
    return data


def say(key: str, **values: object) -> str:
    """The text for `key` with its placeholders filled; a missing key is a config error."""
    text = form_replies().get(key)
    if not isinstance(text, str):
        raise FormReplyConfigError(f"{REPLIES_FILE.name}: no text for '{key}'")
    return text.format(**values)


def remedy_buttons() -> List[Dict[str, str]]:
    return [{"title": title, "payload": title} for title in form_replies()["remedy_buttons"]]
