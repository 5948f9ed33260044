"""What the shopper is told when a case opens and when they ask how it is going.

Wording lives in case_replies.yml; labels for statuses in bot/cases/status_text.yml.
"""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Optional

import yaml

from bot.categories import CATEGORY_NAMES_ZH
from bot.intake import REMEDY_NAMES_ZH

REPLIES_FILE = Path(__file__).with_name("case_replies.yml")
REQUIRED = ("opened", "joined", "for_human", "solution_due", "remedy_noted", "keep_number",
            "status_heading", "status_line", "status_due", "no_cases")


class CaseReplyConfigError(ValueError):
    """case_replies.yml is missing a text."""


@lru_cache(maxsize=1)
def texts() -> Dict[str, str]:
    data = yaml.safe_load(REPLIES_FILE.read_text(encoding="utf-8")) or {}
    missing = [key for key in REQUIRED if not isinstance(data.get(key), str)]
    if missing:
        raise CaseReplyConfigError(f"{REPLIES_FILE.name}: missing text(s) {missing}")
    return data


def when(moment: Optional[datetime]) -> str:
    """11月25日 15:00 — how a deadline reads to a shopper (times are in Asia/Shanghai)."""
    return moment.strftime("%-m月%-d日 %H:%M") if moment else ""


def case_opened(case, created: bool) -> str:
    """`case` is a bot.cases.CaseRecord."""
    t = texts()
    category = CATEGORY_NAMES_ZH.get(case.category, case.category)
    parts = [t["opened" if created else "joined"].format(case_id=case.id, category=category)]
    if case.needs_human:
        parts.append(t["for_human"].format(first_response_due=when(case.first_response_due)))
    elif case.solution_due:
        parts.append(t["solution_due"].format(solution_due=when(case.solution_due)))
    if case.remedy:
        parts.append(t["remedy_noted"].format(remedy=REMEDY_NAMES_ZH.get(case.remedy, case.remedy)))
    parts.append(t["keep_number"])
    return "".join(parts)


def case_number(case) -> str:
    """"已为您登记，案件号 …（品质问题）。" — said as soon as a case exists."""
    category = CATEGORY_NAMES_ZH.get(case.category, case.category)
    return texts()["opened"].format(case_id=case.id, category=category)


def case_list(cases: Iterable) -> str:
    t = texts()
    lines = []
    for case in cases:
        due = case.first_response_due if case.needs_human else case.solution_due
        lines.append(t["status_line"].format(
            case_id=case.id, category=CATEGORY_NAMES_ZH.get(case.category, case.category),
            status=case.status_label, next_step=case.next_step,
            due=t["status_due"].format(due=when(due)) if due and not case.is_finished else ""))
    if not lines:
        return t["no_cases"]
    return "\n".join([t["status_heading"], *lines])
