"""Working-day arithmetic (domain/calendar.py): pure, no database.

Real 2026 data from chinesecalendar 1.11.0 (checked with ``get_holiday_detail``):
- Spring Festival: rest Sun 2026-02-15 .. Mon 2026-02-23; adjusted working Saturdays
  2026-02-14 and 2026-02-28.
- National Day: rest Thu 2026-10-01 .. Wed 2026-10-07; adjusted working Sunday 2026-09-20
  and Saturday 2026-10-10.
"""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta, timezone

import chinese_calendar
import pytest

from domain.calendar import TZ, CalendarNotCovered, LimitUnit, TimeLimit, WorkCalendar
from domain.errors import DomainError

MIN = LimitUnit.MINUTES
HOUR = LimitUnit.HOURS
NDAY = LimitUnit.NATURAL_DAYS
WDAY = LimitUnit.WORKING_DAYS

CAL = WorkCalendar()


def sh(text: str) -> datetime:
    """An Asia/Shanghai datetime from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- the library data the cases rely on ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "weekday", "works", "holiday_name"),
    [
        ("2026-02-14", "Sat", True, "Spring Festival"),
        ("2026-02-15", "Sun", False, "Spring Festival"),
        ("2026-02-16", "Mon", False, "Spring Festival"),
        ("2026-02-23", "Mon", False, "Spring Festival"),
        ("2026-02-24", "Tue", True, None),
        ("2026-02-28", "Sat", True, "Spring Festival"),
        ("2026-09-20", "Sun", True, "National Day"),
        ("2026-09-30", "Wed", True, None),
        ("2026-10-01", "Thu", False, "National Day"),
        ("2026-10-07", "Wed", False, "National Day"),
        ("2026-10-08", "Thu", True, None),
        ("2026-10-10", "Sat", True, "National Day"),
        ("2026-10-11", "Sun", False, None),
    ],
)
def test_library_data_as_assumed(
    day: str, weekday: str, works: bool, holiday_name: str | None
) -> None:
    when = d(day)
    assert when.strftime("%a") == weekday
    assert chinese_calendar.get_holiday_detail(when) == (not works, holiday_name)
    assert CAL.is_workday(when) is works


# --- add(): working days ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "amount", "expected", "why"),
    [
        ("2026-03-06 18:00", 1, "2026-03-09 18:00", "Friday evening + 1 -> Monday, same time"),
        ("2026-03-06 18:00", 5, "2026-03-13 18:00", "Friday + 5 -> next Friday"),
        ("2026-03-04 09:15", 2, "2026-03-06 09:15", "midweek, no weekend crossed"),
        ("2026-03-06 18:00", 0, "2026-03-06 18:00", "0 on a working day is the start"),
        ("2026-03-07 10:00", 1, "2026-03-10 00:00", "Saturday + 1 -> end of Monday"),
        ("2026-03-08 23:59", 1, "2026-03-10 00:00", "Sunday night + 1 -> end of Monday"),
        ("2026-03-07 10:00", 0, "2026-03-09 00:00", "0 on a rest day -> next working day 00:00"),
        ("2026-03-07 10:00", 3, "2026-03-12 00:00", "Saturday + 3 -> end of Wednesday"),
        ("2026-03-09 00:00", 1, "2026-03-10 00:00", "working-day midnight behaves like rest-day"),
        # National Day week: 10-01..07 rest, Sat 10-10 works, Sun 09-20 works
        ("2026-09-30 17:00", 1, "2026-10-08 17:00", "last day before National Day + 1"),
        ("2026-09-29 10:00", 3, "2026-10-09 10:00", "Tue + 3 across the holiday week"),
        ("2026-09-30 17:00", 3, "2026-10-10 17:00", "lands on the adjusted Saturday 10-10"),
        ("2026-09-30 17:00", 4, "2026-10-12 17:00", "skips Sunday 10-11 after it"),
        ("2026-10-09 16:00", 1, "2026-10-10 16:00", "Friday + 1 -> adjusted Saturday"),
        ("2026-10-03 11:00", 1, "2026-10-09 00:00", "dispatched inside the holiday + 1"),
        ("2026-10-03 11:00", 0, "2026-10-08 00:00", "inside the holiday + 0"),
        ("2026-10-10 08:30", 1, "2026-10-12 08:30", "start on the adjusted Saturday"),
        # the adjusted working Sunday 09-20
        ("2026-09-18 18:00", 1, "2026-09-20 18:00", "Friday + 1 -> adjusted Sunday"),
        ("2026-09-19 10:00", 1, "2026-09-21 00:00", "Saturday + 1 -> end of adjusted Sunday"),
        ("2026-09-20 09:00", 1, "2026-09-21 09:00", "start on the adjusted Sunday"),
        # Spring Festival: 02-15..23 rest, Sat 02-14 and Sat 02-28 work
        ("2026-02-13 18:00", 1, "2026-02-14 18:00", "Friday + 1 -> adjusted Saturday 02-14"),
        ("2026-02-14 18:00", 1, "2026-02-24 18:00", "adjusted Saturday + 1 -> after the festival"),
        ("2026-02-18 10:00", 1, "2026-02-25 00:00", "New Year's Eve week + 1"),
        ("2026-02-27 12:00", 1, "2026-02-28 12:00", "Friday + 1 -> adjusted Saturday 02-28"),
        # New Year's Day 2026 (Thu 01-01 .. Sat 01-03 rest, Sun 01-04 works)
        ("2025-12-31 15:00", 1, "2026-01-04 15:00", "across the year boundary"),
    ],
)
def test_add_working_days(start: str, amount: int, expected: str, why: str) -> None:
    assert CAL.add(sh(start), TimeLimit(amount, WDAY)) == sh(expected), why


def test_rest_day_start_equals_counting_from_next_working_midnight() -> None:
    for start, first_working in [
        ("2026-03-07 10:00", "2026-03-09"),
        ("2026-10-01 00:00", "2026-10-08"),
        ("2026-02-15 23:00", "2026-02-24"),
    ]:
        for n in range(6):
            assert CAL.add(sh(start), TimeLimit(n, WDAY)) == CAL.add(
                sh(f"{first_working} 00:00"), TimeLimit(n, WDAY)
            )


# --- add(): natural time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "limit", "expected"),
    [
        ("2026-09-30 23:50", TimeLimit(30, MIN), "2026-10-01 00:20"),
        ("2026-09-30 17:00", TimeLimit(2, HOUR), "2026-09-30 19:00"),
        ("2026-09-30 17:00", TimeLimit(24, HOUR), "2026-10-01 17:00"),
        ("2026-09-30 17:00", TimeLimit(3, NDAY), "2026-10-03 17:00"),
        ("2026-03-07 10:00", TimeLimit(1, NDAY), "2026-03-08 10:00"),
        ("2026-03-07 10:00", TimeLimit(0, MIN), "2026-03-07 10:00"),
        # natural units never consult the calendar, even for uncovered years
        ("2030-05-01 08:00", TimeLimit(7, NDAY), "2030-05-08 08:00"),
    ],
)
def test_add_natural_units_ignore_holidays(start: str, limit: TimeLimit, expected: str) -> None:
    assert CAL.add(sh(start), limit) == sh(expected)


# --- time zones --------------------------------------------------------------------------------


def test_utc_input_is_converted_to_shanghai() -> None:
    # 2026-10-09 23:30 UTC is Saturday 2026-10-10 07:30 in Shanghai (UTC+8): the adjusted
    # working Saturday, so the deadline is the same Shanghai clock time on Monday 10-12.
    start = datetime(2026, 10, 9, 23, 30, tzinfo=UTC)
    assert start.astimezone(TZ) == sh("2026-10-10 07:30")
    assert start.astimezone(TZ).strftime("%a") == "Sat"
    result = CAL.add(start, TimeLimit(1, WDAY))
    assert result == sh("2026-10-12 07:30")
    assert result.tzinfo == TZ
    assert result.utcoffset() == timedelta(hours=8)


def test_utc_evening_on_friday_is_saturday_rest_day_in_shanghai() -> None:
    # Friday 2026-03-06 16:30 UTC = Saturday 03-07 00:30 in Shanghai: a rest day there.
    start = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)
    assert CAL.add(start, TimeLimit(1, WDAY)) == sh("2026-03-10 00:00")


@pytest.mark.parametrize("unit", list(LimitUnit))
def test_results_are_in_shanghai(unit: LimitUnit) -> None:
    start = datetime(2026, 3, 4, 1, 0, tzinfo=timezone(timedelta(hours=-5)))
    result = CAL.add(start, TimeLimit(2, unit))
    assert result.tzinfo == TZ


@pytest.mark.parametrize("unit", list(LimitUnit))
def test_naive_start_is_rejected(unit: LimitUnit) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add(datetime(2026, 3, 6, 18, 0), TimeLimit(1, unit))


# --- overrides ---------------------------------------------------------------------------------


def test_override_makes_a_normal_monday_a_rest_day() -> None:
    cal = WorkCalendar({d("2026-03-09"): False})
    assert CAL.is_workday(d("2026-03-09")) is True
    assert cal.is_workday(d("2026-03-09")) is False
    assert cal.add(sh("2026-03-06 18:00"), TimeLimit(1, WDAY)) == sh("2026-03-10 18:00")
    assert cal.add(sh("2026-03-07 10:00"), TimeLimit(1, WDAY)) == sh("2026-03-11 00:00")


def test_override_makes_a_sunday_a_workday() -> None:
    cal = WorkCalendar({d("2026-03-08"): True})
    assert CAL.is_workday(d("2026-03-08")) is False
    assert cal.is_workday(d("2026-03-08")) is True
    assert cal.add(sh("2026-03-06 18:00"), TimeLimit(1, WDAY)) == sh("2026-03-08 18:00")
    assert cal.add(sh("2026-03-07 10:00"), TimeLimit(1, WDAY)) == sh("2026-03-09 00:00")


def test_override_wins_over_library_holiday_and_adjusted_workday() -> None:
    cal = WorkCalendar({d("2026-10-01"): True, d("2026-10-10"): False})
    assert cal.is_workday(d("2026-10-01")) is True
    assert cal.is_workday(d("2026-10-10")) is False
    assert cal.add(sh("2026-09-30 17:00"), TimeLimit(1, WDAY)) == sh("2026-10-01 17:00")
    assert cal.add(sh("2026-10-09 16:00"), TimeLimit(1, WDAY)) == sh("2026-10-12 16:00")


def test_overrides_are_copied_and_read_only() -> None:
    source = {d("2026-03-09"): False}
    cal = WorkCalendar(source)
    source[d("2026-03-09")] = True
    assert cal.is_workday(d("2026-03-09")) is False
    with pytest.raises(TypeError):
        cal.overrides[d("2026-03-10")] = False  # type: ignore[index]


def test_override_keys_must_be_dates() -> None:
    with pytest.raises(TypeError, match="dates"):
        WorkCalendar({datetime(2026, 3, 9, tzinfo=TZ): False})


# --- years the library does not cover ------------------------------------------------------


def test_library_really_stops_at_2026() -> None:
    # If this fails, chinesecalendar was upgraded: pick another uncovered year for these tests.
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_2027_without_overrides_raises_calendar_not_covered() -> None:
    with pytest.raises(CalendarNotCovered) as caught:
        CAL.is_workday(d("2027-03-08"))
    err = caught.value
    assert err.year == 2027
    assert isinstance(err, DomainError)
    assert err.code == "CALENDAR_NOT_COVERED"
    assert "2027" in str(err)
    assert "administrator" in str(err)
    assert "setCalendarDay" in str(err)
    assert CAL.covers(2027) is False
    assert CAL.covers(2026) is True
    assert CAL.covers(2004) is True
    assert CAL.covers(2003) is False


def test_calendar_not_covered_survives_pickling() -> None:
    err = pickle.loads(pickle.dumps(CalendarNotCovered(2027)))
    assert isinstance(err, CalendarNotCovered)
    assert err.year == 2027


def test_deadline_running_into_2027_raises() -> None:
    # 2026-12-31 is a Thursday and a working day; +1 must classify 2027-01-01.
    with pytest.raises(CalendarNotCovered) as caught:
        CAL.add(sh("2026-12-31 10:00"), TimeLimit(1, WDAY))
    assert caught.value.year == 2027
    # 0 working days does not need 2027.
    assert CAL.add(sh("2026-12-31 10:00"), TimeLimit(0, WDAY)) == sh("2026-12-31 10:00")


def test_2027_with_one_override_follows_the_plain_weekday_rule() -> None:
    cal = WorkCalendar({d("2027-01-01"): False})  # New Year's Day entered by an administrator
    assert cal.covers(2027) is True
    assert cal.covers(2028) is False
    assert cal.is_workday(d("2027-01-01")) is False  # Friday, entered as rest
    assert cal.is_workday(d("2027-01-02")) is False  # Saturday
    assert cal.is_workday(d("2027-01-03")) is False  # Sunday
    assert cal.is_workday(d("2027-01-04")) is True  # Monday
    assert cal.is_workday(d("2027-10-01")) is True  # a Friday nobody entered
    assert cal.add(sh("2026-12-31 10:00"), TimeLimit(1, WDAY)) == sh("2027-01-04 10:00")
    assert cal.add(sh("2027-01-01 09:00"), TimeLimit(1, WDAY)) == sh("2027-01-05 00:00")
    with pytest.raises(CalendarNotCovered):
        cal.is_workday(d("2028-01-03"))


def test_is_workday_takes_a_date_not_a_datetime() -> None:
    with pytest.raises(TypeError):
        CAL.is_workday(datetime(2026, 3, 9, tzinfo=TZ))


# --- TimeLimit ---------------------------------------------------------------------------------


def test_time_limit_validation() -> None:
    assert TimeLimit(0, WDAY).amount == 0
    with pytest.raises(ValueError, match=">= 0"):
        TimeLimit(-1, HOUR)
    with pytest.raises(TypeError):
        TimeLimit(1.5, HOUR)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TimeLimit(True, HOUR)
    assert TimeLimit(2, "HOURS").unit is HOUR  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TimeLimit(2, "FORTNIGHTS")  # type: ignore[arg-type]


def test_limit_unit_values_are_stable() -> None:
    assert [u.value for u in LimitUnit] == ["MINUTES", "HOURS", "NATURAL_DAYS", "WORKING_DAYS"]


# --- working_days_between ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2026-03-06 18:00", "2026-03-09 18:00", 1.0),  # Fri evening -> Mon evening
        ("2026-03-07 10:00", "2026-03-10 00:00", 1.0),  # Sat -> end of Monday
        ("2026-03-07 10:00", "2026-03-09 00:00", 0.0),  # the whole weekend counts nothing
        ("2026-03-09 00:00", "2026-03-09 12:00", 0.5),
        ("2026-09-30 17:00", "2026-10-08 17:00", 1.0),  # across National Day
        ("2026-10-08 17:00", "2026-09-30 17:00", -1.0),
        ("2026-03-09 08:00", "2026-03-09 08:00", 0.0),
    ],
)
def test_working_days_between(start: str, end: str, expected: float) -> None:
    assert CAL.working_days_between(sh(start), sh(end)) == pytest.approx(expected)


def test_working_days_between_inverts_add() -> None:
    starts = ["2026-03-06 18:00", "2026-03-07 10:00", "2026-09-29 10:00", "2026-10-03 11:00"]
    for start in starts:
        for n in range(8):
            deadline = CAL.add(sh(start), TimeLimit(n, WDAY))
            assert CAL.working_days_between(sh(start), deadline) == pytest.approx(n)


def test_working_days_between_rejects_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_days_between(datetime(2026, 3, 6), sh("2026-03-09 00:00"))
