"""Case statuses and how they are worded for shoppers (wording in `status_text.yml`)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Mapping

import yaml

STATUSES = ("open", "awaiting_shopper", "escalated", "resolved", "closed", "reopened")
# A case in one of these is still being worked on: a new complaint about the same order
# and category joins it instead of opening another.
UNFINISHED_STATUSES = ("open", "awaiting_shopper", "escalated", "reopened")

STATUS_TEXT_FILE = Path(__file__).with_name("status_text.yml")


class StatusTextError(ValueError):
    """status_text.yml lacks a status or has a malformed entry."""


@dataclass(frozen=True)
class StatusText:
    label: str
    next_step: str


def parse_status_texts(data: object, source: str = STATUS_TEXT_FILE.name) -> Dict[str, StatusText]:
    if not isinstance(data, Mapping):
        raise StatusTextError(f"{source}: expected a mapping of status → {{label, next_step}}")
    unknown = sorted(set(data) - set(STATUSES))
    if unknown:
        raise StatusTextError(f"{source}: unknown status {unknown}, expected only {STATUSES}")
    texts = {}
    for status in STATUSES:
        entry = data.get(status)
        if not isinstance(entry, Mapping):
            raise StatusTextError(f"{source}: status '{status}' is missing")
        for field in ("label", "next_step"):
            if not isinstance(entry.get(field), str) or not entry[field].strip():
                raise StatusTextError(f"{source}: {status}.{field} must be a non-empty text")
        texts[status] = StatusText(entry["label"].strip(), entry["next_step"].strip())
    return texts


@lru_cache(maxsize=1)
def status_texts() -> Dict[str, StatusText]:
    return parse_status_texts(yaml.safe_load(STATUS_TEXT_FILE.read_text(encoding="utf-8")))


def _text(status: str) -> StatusText:
    try:
        return status_texts()[status]
    except KeyError:
        raise ValueError(f"unknown case status '{status}', expected one of {STATUSES}") from None


def status_label(status: str) -> str:
    """`escalated` → 已转人工."""
    return _text(status).label


def status_next_step(status: str) -> str:
    """What the shopper is told happens next while the case is in `status`."""
    return _text(status).next_step
