from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.cases.sla import (
    SERVICE_LEVELS_FILE,
    SHANGHAI,
    add_working_days,
    due_times,
    followup_due,
    load_service_levels,
    repair_due,
    service_levels,
)
from bot.policy.errors import PolicyConfigError

UTC = timezone.utc


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def assert_shanghai(moment: datetime) -> None:
    assert moment.tzinfo is not None and moment.utcoffset() == timedelta(hours=8)
    assert getattr(moment.tzinfo, "key", None) == "Asia/Shanghai"


# ---------------------------------------------------------------- add_working_days
# March 2026: Thu 5, Fri 6, Sat 7, Sun 8, Mon 9, Tue 10, Wed 11.

@pytest.mark.parametrize("start,days,due", [
    (sh(2026, 3, 6, 15, 0), 3, sh(2026, 3, 11, 15, 0)),   # Friday → Wednesday, same time
    (sh(2026, 3, 6, 15, 0), 1, sh(2026, 3, 9, 15, 0)),    # Friday → Monday
    (sh(2026, 3, 5, 10, 0), 2, sh(2026, 3, 9, 10, 0)),    # Thursday over the weekend
    (sh(2026, 3, 7, 10, 0), 1, sh(2026, 3, 10, 0, 0)),    # Saturday: all of Monday
    (sh(2026, 3, 8, 23, 30), 1, sh(2026, 3, 10, 0, 0)),   # Sunday night: the same
    (sh(2026, 3, 8, 9, 0), 3, sh(2026, 3, 12, 0, 0)),     # Sunday → end of Wednesday
    (sh(2026, 3, 9, 0, 0), 1, sh(2026, 3, 10, 0, 0)),     # Monday midnight → Tuesday midnight
    (sh(2026, 3, 6, 0, 0), 1, sh(2026, 3, 7, 0, 0)),      # the end of Friday, not Monday
    (sh(2026, 3, 11, 9, 30), 5, sh(2026, 3, 18, 9, 30)),  # a whole week
    (sh(2026, 3, 11, 9, 30), 0, sh(2026, 3, 11, 9, 30)),
    (sh(2026, 3, 7, 10, 0), 0, sh(2026, 3, 7, 10, 0)),    # zero days is the start itself
])
def test_working_days_skip_weekends(start, days, due):
    result = add_working_days(start, days)
    assert result == due
    assert_shanghai(result)


@pytest.mark.parametrize("start,days,holidays,due", [
    # a Monday off pushes the Friday deadline to Tuesday
    (sh(2026, 3, 6, 15, 0), 1, {date(2026, 3, 9)}, sh(2026, 3, 10, 15, 0)),
    # a start on a holiday counts from the next working day
    (sh(2026, 3, 9, 11, 0), 1, {date(2026, 3, 9)}, sh(2026, 3, 11, 0, 0)),
    # a holiday on a Saturday changes nothing
    (sh(2026, 3, 6, 15, 0), 1, {date(2026, 3, 7)}, sh(2026, 3, 9, 15, 0)),
    # crossing a month end, and 29 February
    (sh(2026, 3, 31, 16, 0), 3, set(), sh(2026, 4, 3, 16, 0)),
    (sh(2024, 2, 28, 12, 0), 2, set(), sh(2024, 3, 1, 12, 0)),
    # crossing a year end, with and without New Year's Day
    (sh(2025, 12, 31, 12, 0), 3, set(), sh(2026, 1, 5, 12, 0)),
    (sh(2025, 12, 31, 12, 0), 1, {date(2026, 1, 1), date(2026, 1, 2)}, sh(2026, 1, 5, 12, 0)),
])
def test_listed_holidays_are_not_working_days(start, days, holidays, due):
    assert add_working_days(start, days, holidays) == due


def test_the_working_day_is_the_shanghai_day_whatever_the_input_zone():
    # 07:00 UTC on Friday is 15:00 in Shanghai.
    assert add_working_days(datetime(2026, 3, 6, 7, 0, tzinfo=UTC), 3) == sh(2026, 3, 11, 15, 0)
    # 20:00 UTC on Friday is already Saturday 04:00 in Shanghai: a weekend start.
    result = add_working_days(datetime(2026, 3, 6, 20, 0, tzinfo=UTC), 1)
    assert result == sh(2026, 3, 10, 0, 0)
    assert_shanghai(result)


@pytest.mark.parametrize("start,days", [
    (datetime(2026, 3, 6, 15, 0), 1),        # no time zone
    (sh(2026, 3, 6, 15, 0), -1),
    (sh(2026, 3, 6, 15, 0), 1.5),
])
def test_add_working_days_refuses_bad_input(start, days):
    with pytest.raises(ValueError):
        add_working_days(start, days)


@pytest.mark.parametrize("start,days,due", [
    # National Day: 1–7 October off, Saturday 10 October worked (调休)
    (sh(2026, 9, 30, 15, 0), 3, sh(2026, 10, 10, 15, 0)),
    # Spring Festival: Saturday 14 February worked, 15–23 February off
    (sh(2026, 2, 13, 10, 0), 1, sh(2026, 2, 14, 10, 0)),
    (sh(2026, 2, 13, 10, 0), 2, sh(2026, 2, 24, 10, 0)),
    # New Year: 1–3 January off, Sunday 4 January worked
    (sh(2025, 12, 31, 12, 0), 1, sh(2026, 1, 4, 12, 0)),
    # Qingming: Monday 6 April off
    (sh(2026, 4, 3, 16, 0), 1, sh(2026, 4, 7, 16, 0)),
])
def test_the_shops_calendar_has_the_2026_holidays_and_working_weekends(start, days, due):
    assert service_levels().add_working_days(start, days) == due


def test_without_the_working_weekend_national_day_ends_on_monday():
    levels = service_levels()
    assert add_working_days(sh(2026, 9, 30, 15, 0), 3, levels.holidays) == sh(2026, 10, 12, 15, 0)


# ---------------------------------------------------------------------- due_times

OPENED = sh(2026, 3, 6, 15, 0)  # a Friday afternoon


@pytest.mark.parametrize("severity,needs_human,public,hours,window", [
    (1, True, False, 2, "first_response_after_escalation"),
    (1, False, False, 2, "first_response_after_escalation"),   # severity 1 always escalates
    (2, True, False, 2, "first_response_after_escalation"),    # e.g. the shopper asked for a person
    (3, False, True, 1, "public_complaint_contact"),
    (1, True, True, 1, "public_complaint_contact"),            # the tighter window wins
    (2, False, False, 24, "simple_question"),
    (3, False, False, 24, "simple_question"),
])
def test_first_response_window(severity, needs_human, public, hours, window):
    due = due_times(OPENED, severity, needs_human, public)
    assert due.first_response == OPENED + timedelta(hours=hours)
    assert due.first_response_window == window
    assert_shanghai(due.first_response)


def test_first_response_runs_in_clock_hours_through_the_weekend():
    saturday_night = sh(2026, 3, 7, 23, 0)
    assert due_times(saturday_night, 1, True).first_response == sh(2026, 3, 8, 1, 0)
    assert due_times(saturday_night, 3, False).first_response == sh(2026, 3, 8, 23, 0)


def test_solution_is_due_in_three_working_days():
    assert due_times(OPENED, 2, False).solution == sh(2026, 3, 11, 15, 0)
    assert due_times(sh(2026, 9, 30, 15, 0), 2, False).solution == sh(2026, 10, 10, 15, 0)


@pytest.mark.parametrize("severity,needs_human,public,after", [
    (1, True, False, timedelta(hours=1, minutes=36)),   # 80% of 2 h
    (3, False, True, timedelta(minutes=48)),            # 80% of 1 h
    (3, False, False, timedelta(hours=19, minutes=12)),  # 80% of 24 h
])
def test_the_first_response_warning_comes_at_80_percent(severity, needs_human, public, after):
    due = due_times(OPENED, severity, needs_human, public)
    assert due.warn_at("first_response") == OPENED + after
    assert due.warning_times["first_response"] == OPENED + after


def test_the_solution_warning_comes_at_80_percent_of_the_working_time():
    # Monday 09:00 + 2.4 working days: Monday's 15 h, Tuesday's 24 h, then 18.6 h of Wednesday.
    due = due_times(sh(2026, 3, 9, 9, 0), 2, False)
    assert due.solution == sh(2026, 3, 12, 9, 0)
    assert due.warn_at("solution") == sh(2026, 3, 11, 18, 36)
    assert_shanghai(due.warn_at("solution"))


def test_a_deadline_is_on_time_then_warned_then_breached():
    due = due_times(OPENED, 1, True)
    assert due.state("first_response", OPENED + timedelta(hours=1)) == "on_time"
    assert due.state("first_response", OPENED + timedelta(hours=1, minutes=36)) == "warning"
    assert due.state("first_response", OPENED + timedelta(hours=2)) == "breached"
    with pytest.raises(ValueError, match="repair"):
        due.warn_at("repair")


def test_due_times_are_in_shanghai_for_an_input_in_another_zone():
    due = due_times(datetime(2026, 3, 6, 7, 0, tzinfo=UTC), 1, True)
    assert due.first_response == sh(2026, 3, 6, 17, 0)
    for moment in (due.opened_at, due.first_response, due.solution, due.warn_at("first_response"),
                   due.warn_at("solution")):
        assert_shanghai(moment)


@pytest.mark.parametrize("opened,severity", [(datetime(2026, 3, 6, 15, 0), 1), (OPENED, 4), (OPENED, True)])
def test_due_times_refuses_bad_input(opened, severity):
    with pytest.raises(ValueError):
        due_times(opened, severity, False)


def test_followup_is_a_day_after_resolution_and_repair_a_week_after_start():
    assert followup_due(sh(2026, 3, 6, 15, 0)) == sh(2026, 3, 7, 15, 0)
    # seven calendar days, holidays included
    assert repair_due(sh(2026, 9, 30, 10, 0)) == sh(2026, 10, 7, 10, 0)
    assert_shanghai(repair_due(datetime(2026, 9, 30, 2, 0, tzinfo=UTC)))


def test_the_default_levels_are_read_once_and_match_product_md():
    levels = service_levels()
    assert levels is load_service_levels() is service_levels()
    assert levels.first_response_hours == 2 and levels.public_contact_hours == 1
    assert levels.warning_fraction == 0.8
    assert levels.window("repair").label == "7天"
    assert levels.window("complex_solution").label == "3个工作日"
    assert not levels.is_working_day(date(2026, 10, 1))
    assert levels.is_working_day(date(2026, 10, 10))


# ------------------------------------------------------------------ the YAML file

def write_levels(tmp_path: Path, old: str, new: str) -> Path:
    text = SERVICE_LEVELS_FILE.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "service_levels.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_a_shop_can_change_its_commitments(tmp_path):
    path = write_levels(tmp_path, "simple_question: {hours: 24}", "simple_question: {hours: 12}")
    path.write_text(path.read_text(encoding="utf-8").replace("fraction_of_window: 0.8",
                                                             "fraction_of_window: 0.5"), encoding="utf-8")
    levels = load_service_levels(path)
    due = due_times(OPENED, 3, False, levels=levels)
    assert due.first_response == OPENED + timedelta(hours=12)
    assert due.warn_at("first_response") == OPENED + timedelta(hours=6)


def test_a_single_holiday_date_is_accepted(tmp_path):
    path = write_levels(tmp_path, "  - {from: 2026-01-01, to: 2026-01-03}  # 元旦",
                        "  - 2026-03-09\n  - {from: 2026-01-01, to: 2026-01-03}")
    levels = load_service_levels(path)
    assert levels.add_working_days(OPENED, 1) == sh(2026, 3, 10, 15, 0)


BAD_FILES = [
    # (replace this, with this, the key the message must name, the message must say)
    ("  repair: {days: 7}", "  repair: {weeks: 1}", "windows.repair.weeks", "unknown key"),
    ("  repair: {days: 7}", "  repair: {days: 7, hours: 1}", "windows.repair", "exactly one unit"),
    ("  repair: {days: 7}", "  repair: {days: -7}", "windows.repair.days", "at least 0"),
    ("  repair: {days: 7}", "  repair: {days: seven}", "windows.repair.days", "must be a number"),
    ("  repair: {days: 7}\n", "", "windows", "missing key 'repair'"),
    ("  repair: {days: 7}", "  repair: {days: 7}\n  warranty: {days: 365}", "windows.warranty", "unknown key"),
    ("complex_solution: {working_days: 3}", "complex_solution: {working_days: 2.5}",
     "windows.complex_solution.working_days", "whole number"),
    ("first_response_after_escalation: {hours: 2}", "first_response_after_escalation: {working_days: 1}",
     "windows.first_response_after_escalation.working_days", "clock hours"),
    ("fraction_of_window: 0.8", "fraction_of_window: 1.2", "early_warning.fraction_of_window", "at most 1"),
    ("fraction_of_window: 0.8", "fraction_of_window: 0", "early_warning.fraction_of_window", "more than 0"),
    ("fraction_of_window: 0.8", "fraction_of_window: 1", "early_warning.fraction_of_window", "below 1"),
    ("timezone: Asia/Shanghai", "timezone: Asia/Beijing", "timezone", "unknown time zone"),
    ("timezone: Asia/Shanghai", "timezone: Asia/Shanghai\nholiday: []", "holiday", "unknown key"),
    ("{from: 2026-10-01, to: 2026-10-07}", "{from: 2026-10-07, to: 2026-10-01}", "holidays[6].to", "before"),
    ("{from: 2026-10-01, to: 2026-10-07}", "{from: 2026-10-01, to: 2026-13-07}", "holidays[6].to", "date"),
    ("{from: 2026-10-01, to: 2026-10-07}", "{from: 2026-10-01}", "holidays[6]", "missing key 'to'"),
    ("  - 2026-10-10", "  - 2026-10-12", "working_weekends[5]", "not a Saturday or Sunday"),
    ("  - 2026-10-10", "  - 2026-10-03", "working_weekends[5]", "also listed as a holiday"),
]


@pytest.mark.parametrize("old,new,key,problem", BAD_FILES)
def test_a_bad_service_levels_file_names_the_file_and_the_key(tmp_path, old, new, key, problem):
    path = write_levels(tmp_path, old, new)
    with pytest.raises(PolicyConfigError) as error:
        load_service_levels(path)
    message = str(error.value)
    assert str(path) in message and key in message and problem in message
    assert "(line " in message


def test_the_error_gives_the_line_of_the_bad_value(tmp_path):
    text = SERVICE_LEVELS_FILE.read_text(encoding="utf-8")
    line = next(n for n, l in enumerate(text.splitlines(), 1) if "repair: {days: 7}" in l)
    path = write_levels(tmp_path, "repair: {days: 7}", "repair: {days: -1}")
    with pytest.raises(PolicyConfigError, match=rf"windows\.repair\.days \(line {line}\)"):
        load_service_levels(path)


def test_an_empty_or_broken_file_is_a_policy_error(tmp_path):
    path = tmp_path / "service_levels.yml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(PolicyConfigError, match="must be a mapping"):
        load_service_levels(path)
    path.write_text("windows:\n  repair: {days: 7\n", encoding="utf-8")
    with pytest.raises(PolicyConfigError, match=r"service_levels\.yml.*line"):
        load_service_levels(path)
