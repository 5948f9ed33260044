"""SLA clocks (服务承诺): when a case's first response, solution, repair and follow-up are
due, and when the supervisor is warned before a deadline passes.

The numbers live in `bot/policy/service_levels.yml`. Every datetime in and out is
timezone-aware; results are in the shop's time zone (Asia/Shanghai by default), because
"3 working days" depends on where the working day is.

Working days (the convention, also documented in the YAML): Monday–Friday, minus the
listed holidays, plus the listed working weekends (调休上班). The clock runs through
whole working days (00:00–24:00); time on non-working days does not count. So:
  - Friday 15:00 + 3 working days = Wednesday 15:00 (the rest of Friday, Monday, Tuesday,
    and Wednesday until 15:00);
  - Saturday 10:00 + 1 working day = Tuesday 00:00, i.e. the end of Monday: a start on a
    non-working day counts from 00:00 of the next working day;
  - Monday 00:00 + 1 working day = Tuesday 00:00, even if Tuesday is a holiday: the
    deadline is the instant the working time has run out;
  - + 0 working days is the start itself.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Collection, Dict, FrozenSet, Mapping, Optional, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.policy.errors import PolicyConfigError
from bot.policy.location import policy_file
from bot.policy.policy_yaml import Key, PolicyFile

SERVICE_LEVELS_FILE = Path(__file__).resolve().parent.parent / "policy" / "service_levels.yml"
SHANGHAI = ZoneInfo("Asia/Shanghai")

ACKNOWLEDGE = "acknowledge"
ESCALATED_FIRST_RESPONSE = "first_response_after_escalation"
PUBLIC_CONTACT = "public_complaint_contact"
SIMPLE_QUESTION = "simple_question"
COMPLEX_SOLUTION = "complex_solution"
REPAIR = "repair"
FOLLOWUP = "followup_after_resolution"
WINDOW_NAMES = (ACKNOWLEDGE, ESCALATED_FIRST_RESPONSE, PUBLIC_CONTACT, SIMPLE_QUESTION,
                COMPLEX_SOLUTION, REPAIR, FOLLOWUP)
# The shopper is told "N小时内" for these, and a person must answer at the weekend too.
CLOCK_HOUR_WINDOWS = (ACKNOWLEDGE, ESCALATED_FIRST_RESPONSE, PUBLIC_CONTACT)
UNITS = ("hours", "days", "working_days")
DEADLINES = ("first_response", "solution")
SEVERITIES = (1, 2, 3)

# Ten years of consecutive days off means the holiday list is wrong, not that the case
# may wait that long.
_MAX_DAYS_OFF = 3660

__all__ = [
    "DEADLINES", "SERVICE_LEVELS_FILE", "SHANGHAI", "WINDOW_NAMES", "DueTimes", "PolicyConfigError",
    "ServiceLevels", "Window", "add_working_days", "due_times", "followup_due",
    "load_service_levels", "repair_due", "service_levels",
]


# ----------------------------------------------------------------------- working days

def _require_aware(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")


def _is_working_day(day: date, holidays: Collection[date], working_weekends: Collection[date]) -> bool:
    if day in working_weekends:
        return True
    return day.weekday() < 5 and day not in holidays


def _next_working_day(day: date, holidays: Collection[date], working_weekends: Collection[date]) -> date:
    for _ in range(_MAX_DAYS_OFF):
        day += timedelta(days=1)
        if _is_working_day(day, holidays, working_weekends):
            return day
    raise ValueError(f"no working day within {_MAX_DAYS_OFF} days after {day}: check the holidays")


def _add_working_time(start: datetime, duration: timedelta, holidays: Collection[date],
                      working_weekends: Collection[date], tz: ZoneInfo) -> datetime:
    _require_aware(start, "start")
    if duration < timedelta(0):
        raise ValueError(f"a working-time window cannot be negative, got {duration}")
    if duration == timedelta(0):
        return start.astimezone(tz)
    # Count on the local wall clock: the working day is a local notion.
    local = start.astimezone(tz).replace(tzinfo=None)
    if not _is_working_day(local.date(), holidays, working_weekends):
        local = datetime.combine(_next_working_day(local.date(), holidays, working_weekends), time())
    remaining = duration
    while True:
        end_of_day = datetime.combine(local.date() + timedelta(days=1), time())
        available = end_of_day - local
        if remaining <= available:
            return (local + remaining).replace(tzinfo=tz)
        remaining -= available
        local = datetime.combine(_next_working_day(local.date(), holidays, working_weekends), time())


def add_working_days(start: datetime, days: int, holidays: Collection[date] = (),
                     working_weekends: Collection[date] = (), tz: ZoneInfo = SHANGHAI) -> datetime:
    """`start` plus `days` whole working days (see the module docstring), in `tz`."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise ValueError(f"days must be a whole number of working days >= 0, got {days!r}")
    return _add_working_time(start, timedelta(days=days), frozenset(holidays),
                             frozenset(working_weekends), tz)


# --------------------------------------------------------------------- service levels

@dataclass(frozen=True)
class Window:
    name: str
    amount: float
    unit: str  # one of UNITS

    def due(self, start: datetime, levels: "ServiceLevels") -> datetime:
        return self._after(start, 1.0, levels)

    def warn_at(self, start: datetime, levels: "ServiceLevels") -> datetime:
        """When `levels.warning_fraction` of the window has passed."""
        return self._after(start, levels.warning_fraction, levels)

    def _after(self, start: datetime, fraction: float, levels: "ServiceLevels") -> datetime:
        _require_aware(start, "start")
        if self.unit == "working_days":
            return _add_working_time(start, timedelta(days=self.amount * fraction), levels.holidays,
                                     levels.working_weekends, levels.timezone)
        length = timedelta(hours=self.amount) if self.unit == "hours" else timedelta(days=self.amount)
        return (start + length * fraction).astimezone(levels.timezone)

    @property
    def label(self) -> str:
        unit = {"hours": "小时", "days": "天", "working_days": "个工作日"}[self.unit]
        return f"{self.amount:g}{unit}"


@dataclass(frozen=True)
class ServiceLevels:
    source: Path
    timezone: ZoneInfo
    windows: Mapping[str, Window]
    warning_fraction: float
    holidays: FrozenSet[date]
    working_weekends: FrozenSet[date]

    def window(self, name: str) -> Window:
        try:
            return self.windows[name]
        except KeyError:
            raise ValueError(f"unknown SLA window '{name}', expected one of {WINDOW_NAMES}") from None

    def is_working_day(self, day: date) -> bool:
        return _is_working_day(day, self.holidays, self.working_weekends)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        return add_working_days(start, days, self.holidays, self.working_weekends, self.timezone)

    @property
    def first_response_hours(self) -> float:
        """Hours within which a person answers an escalated conversation."""
        return self.windows[ESCALATED_FIRST_RESPONSE].amount

    @property
    def public_contact_hours(self) -> float:
        """Hours within which a public complaint gets a private contact."""
        return self.windows[PUBLIC_CONTACT].amount


def _date(source: PolicyFile, key: Key, value: Any) -> date:
    if isinstance(value, datetime):
        raise source.error(key, f"must be a date like 2026-10-01 without a time, got {value}")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise source.error(key, f"must be a date like 2026-10-01, got {value!r}")


def _holidays(source: PolicyFile, key: Key, value: Any) -> FrozenSet[date]:
    if not isinstance(value, list):
        raise source.error(key, "must be a list of dates or {from, to} ranges")
    days = set()
    for position, item in enumerate(value):
        where = key + (position,)
        if isinstance(item, dict):
            span = source.mapping(where, item, required=("from", "to"))
            first = _date(source, where + ("from",), span["from"])
            last = _date(source, where + ("to",), span["to"])
            if last < first:
                raise source.error(where + ("to",), f"{last} is before {first}")
            if (last - first).days > 366:
                raise source.error(where + ("to",), "a holiday range longer than a year is a typo")
            days.update(first + timedelta(days=n) for n in range((last - first).days + 1))
        else:
            days.add(_date(source, where, item))
    return frozenset(days)


def _window(source: PolicyFile, name: str, value: Any) -> Window:
    key: Key = ("windows", name)
    spec = source.mapping(key, value, optional=UNITS)
    if len(spec) != 1:
        raise source.error(key, f"give exactly one unit out of {', '.join(UNITS)}, e.g. {{hours: 2}}")
    (unit, amount), = spec.items()
    if name in CLOCK_HOUR_WINDOWS and unit != "hours":
        raise source.error(key + (unit,), "this window is promised in clock hours: use {hours: N}")
    if unit == "working_days":
        amount = source.integer(key + (unit,), amount, 0, 365)
    else:
        limit = 24 * 365 if unit == "hours" else 365
        amount = source.number(key + (unit,), amount, 0, limit)
    return Window(name, amount, unit)


def load_service_levels(path: Union[str, Path, None] = None) -> ServiceLevels:
    """Read and check a service-levels file; the default file is read once and cached."""
    if path is None:
        return _default_levels()
    source = PolicyFile(path)
    root = source.mapping((), source.data, required=("timezone", "windows", "early_warning"),
                          optional=("holidays", "working_weekends"))

    name = root["timezone"]
    try:
        if not isinstance(name, str):
            raise ValueError
        tz = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise source.error(("timezone",), f"unknown time zone {name!r}, e.g. Asia/Shanghai") from None

    windows_spec = source.mapping(("windows",), root["windows"], required=WINDOW_NAMES)
    windows = {n: _window(source, n, windows_spec[n]) for n in WINDOW_NAMES}

    warning = source.mapping(("early_warning",), root["early_warning"], required=("fraction_of_window",))
    fraction = source.number(("early_warning", "fraction_of_window"), warning["fraction_of_window"],
                             0, 1, minimum_inclusive=False)
    if fraction >= 1:
        raise source.error(("early_warning", "fraction_of_window"),
                           f"must be below 1 so the warning comes before the deadline, got {fraction:g}")

    holidays = _holidays(source, ("holidays",), root["holidays"]) if "holidays" in root else frozenset()
    weekends: FrozenSet[date] = frozenset()
    if "working_weekends" in root:
        value = root["working_weekends"]
        if not isinstance(value, list):
            raise source.error(("working_weekends",), "must be a list of dates")
        days = []
        for position, item in enumerate(value):
            day = _date(source, ("working_weekends", position), item)
            if day.weekday() < 5:
                raise source.error(("working_weekends", position),
                                   f"{day} is a {day.strftime('%A')}, not a Saturday or Sunday")
            if day in holidays:
                raise source.error(("working_weekends", position), f"{day} is also listed as a holiday")
            days.append(day)
        weekends = frozenset(days)

    return ServiceLevels(source.path, tz, windows, fraction, holidays, weekends)


@lru_cache(maxsize=1)
def _default_levels() -> ServiceLevels:
    return load_service_levels(policy_file(SERVICE_LEVELS_FILE.name))


def service_levels() -> ServiceLevels:
    """The shop's commitments from `service_levels.yml`, read once; call at start-up."""
    return _default_levels()


# --------------------------------------------------------------------------- due times

@dataclass(frozen=True)
class DueTimes:
    opened_at: datetime
    first_response: datetime
    solution: datetime
    first_response_warning: datetime
    solution_warning: datetime
    # Which window set the first response: public_complaint_contact,
    # first_response_after_escalation or simple_question.
    first_response_window: str

    @property
    def warning_times(self) -> Dict[str, datetime]:
        return {"first_response": self.first_response_warning, "solution": self.solution_warning}

    def deadline(self, name: str) -> datetime:
        self._check(name)
        return getattr(self, name)

    def warn_at(self, name: str) -> datetime:
        """When the supervisor is warned about deadline `name` (first_response, solution)."""
        self._check(name)
        return getattr(self, f"{name}_warning")

    def state(self, name: str, now: datetime) -> str:
        """`on_time`, `warning` (the warning time has come) or `breached` at `now`."""
        _require_aware(now, "now")
        if now >= self.deadline(name):
            return "breached"
        return "warning" if now >= self.warn_at(name) else "on_time"

    @staticmethod
    def _check(name: str) -> None:
        if name not in DEADLINES:
            raise ValueError(f"unknown deadline '{name}', expected one of {DEADLINES}")


def due_times(opened_at: datetime, severity: int, needs_human: bool, public: bool = False,
              levels: Optional[ServiceLevels] = None) -> DueTimes:
    """Deadlines of a case opened at `opened_at`.

    First response: the earliest window that applies — a public complaint gets a private
    contact within 1 h; an escalated case (needs_human, or severity 1, which always
    escalates) a person within 2 h; a case the bot is handling is answered like a simple
    question, within 24 h. Solution: 3 working days for every case (the complex-complaint
    commitment; a simple case simply finishes earlier).
    """
    _require_aware(opened_at, "opened_at")
    if isinstance(severity, bool) or severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    levels = levels or service_levels()
    applicable = []
    if public:
        applicable.append(levels.window(PUBLIC_CONTACT))
    if needs_human or severity == 1:
        applicable.append(levels.window(ESCALATED_FIRST_RESPONSE))
    if not applicable:
        applicable.append(levels.window(SIMPLE_QUESTION))
    first = min(applicable, key=lambda w: w.due(opened_at, levels))
    solution = levels.window(COMPLEX_SOLUTION)
    return DueTimes(
        opened_at=opened_at.astimezone(levels.timezone),
        first_response=first.due(opened_at, levels),
        solution=solution.due(opened_at, levels),
        first_response_warning=first.warn_at(opened_at, levels),
        solution_warning=solution.warn_at(opened_at, levels),
        first_response_window=first.name,
    )


def followup_due(resolved_at: datetime, levels: Optional[ServiceLevels] = None) -> datetime:
    """When the satisfaction follow-up (回访) is due after a case is resolved."""
    levels = levels or service_levels()
    return levels.window(FOLLOWUP).due(resolved_at, levels)


def repair_due(start: datetime, levels: Optional[ServiceLevels] = None) -> datetime:
    """When a repair that starts at `start` must be finished."""
    levels = levels or service_levels()
    return levels.window(REPAIR).due(start, levels)
