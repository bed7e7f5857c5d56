"""Working-day arithmetic for China: deadlines from time limits (regulation §3(4), §4(1)).

Pure functions: no database, no transport. The caller loads the administrator's calendar
entries (``setCalendarDay``) and passes them in as ``overrides``.

Which days are working days
---------------------------
1. An administrator override for the day wins (``True`` = working day, ``False`` = rest day).
2. Otherwise the ``chinesecalendar`` package decides (statutory holidays and adjusted
   working days, 调休). It has data for 2004–2026 only.
3. A year the package does not cover and for which the administrators have entered **no**
   day raises :class:`CalendarNotCovered` — loudly, never a silent guess: the State Council
   publishes each year's holidays late in the previous year and someone must enter them.
4. A year the package does not cover but with at least one override entry is taken as
   "entered by the administrators": its days without an entry follow the plain rule
   Monday–Friday work, Saturday–Sunday rest.

All times are interpreted in China Standard Time (``Asia/Shanghai``, UTC+8, no daylight
saving since 1991), so wall-clock time and elapsed time agree.

Semantics of :meth:`WorkCalendar.add`
-------------------------------------
``start`` must be timezone-aware (naive datetimes raise ``ValueError``); it is converted to
Asia/Shanghai first and the result is in Asia/Shanghai.

* ``MINUTES``, ``HOURS``, ``NATURAL_DAYS``: natural time, ``start + amount``; holidays are
  not skipped.
* ``WORKING_DAYS`` *n*:

  - ``start`` on a working day: the deadline is the same clock time on the *n*-th following
    working day. Friday 18:00 + 1 → Monday 18:00 (if Monday works; after a holiday, the
    first working day after it).
  - ``start`` on a rest day: counting starts at 00:00 of the next working day *d*, i.e. the
    result equals ``add(d 00:00, n)``: the deadline is 00:00 of the *n*-th working day after
    *d*. Saturday 10:00 + 1 → Tuesday 00:00 (the end of Monday) when Monday and Tuesday
    both work. Should the day after *d* be a rest day, the deadline is 00:00 of the next
    working day after it — equivalent in working time to "the end of *d*", but it never
    lands on a rest day.
  - *n* = 0: ``start`` itself on a working day; *d* 00:00 on a rest day.

:meth:`WorkCalendar.working_days_between` is the inverse measure: the time between two
instants that falls on working days, in units of 24 hours (rest days count nothing), so
``working_days_between(s, add(s, TimeLimit(n, WORKING_DAYS))) == n``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import chinese_calendar

from domain.errors import DomainError

__all__ = [
    "TZ",
    "CalendarNotCovered",
    "LimitUnit",
    "TimeLimit",
    "WorkCalendar",
]

TZ = ZoneInfo("Asia/Shanghai")

_DAY = timedelta(days=1)


class CalendarNotCovered(DomainError):
    """A year with neither holiday data from ``chinesecalendar`` nor any administrator entry.

    A :class:`~domain.errors.DomainError`, so the API reports it with its code and message
    instead of masking it as an internal error.
    """

    code = "CALENDAR_NOT_COVERED"

    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"The working-day calendar has no data for {year}: the holiday library does not "
            f"cover {year} and no administrator has entered any day of it. An administrator "
            f"must enter {year}'s holidays and adjusted working days (setCalendarDay) before "
            f"deadlines in {year} can be computed."
        )

    def __reduce__(self) -> tuple[type[CalendarNotCovered], tuple[int]]:
        return (type(self), (self.year,))


class LimitUnit(enum.StrEnum):
    MINUTES = "MINUTES"
    HOURS = "HOURS"
    NATURAL_DAYS = "NATURAL_DAYS"
    WORKING_DAYS = "WORKING_DAYS"


@dataclass(frozen=True)
class TimeLimit:
    """A time limit such as "sign for within 30 minutes" or "complete within 5 working days"."""

    amount: int
    unit: LimitUnit

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError(f"TimeLimit.amount must be an int, got {self.amount!r}")
        if self.amount < 0:
            raise ValueError(f"TimeLimit.amount must be >= 0, got {self.amount}")
        if not isinstance(self.unit, LimitUnit):
            object.__setattr__(self, "unit", LimitUnit(self.unit))


def _library_is_workday(day: date) -> bool | None:
    """``chinesecalendar``'s answer, or ``None`` for a year it does not cover."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def _aware_in_tz(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.tzinfo.utcoffset(moment) is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")
    return moment.astimezone(TZ)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=TZ)


class WorkCalendar:
    """China's working days (``chinesecalendar``) with administrator overrides that win."""

    def __init__(self, overrides: Mapping[date, bool] | None = None) -> None:
        entries: dict[date, bool] = {}
        for day, works in (overrides or {}).items():
            if isinstance(day, datetime) or not isinstance(day, date):
                raise TypeError(f"override keys must be dates, got {day!r}")
            entries[day] = bool(works)
        self._overrides: Mapping[date, bool] = MappingProxyType(entries)
        self._override_years = frozenset(day.year for day in entries)

    @property
    def overrides(self) -> Mapping[date, bool]:
        """The administrator entries (read-only)."""
        return self._overrides

    def covers(self, year: int) -> bool:
        """Whether every day of ``year`` can be classified (library data or any override entry)."""
        if year in self._override_years:
            return True
        if not date.min.year <= year <= date.max.year:
            return False
        return _library_is_workday(date(year, 1, 1)) is not None

    def is_workday(self, day: date) -> bool:
        """Override, else ``chinesecalendar``, else the plain weekday rule in an entered year.

        Raises :class:`CalendarNotCovered` for a year with neither library data nor any entry.
        """
        if isinstance(day, datetime):
            raise TypeError("is_workday takes a date; convert the datetime to Asia/Shanghai first")
        entry = self._overrides.get(day)
        if entry is not None:
            return entry
        library = _library_is_workday(day)
        if library is not None:
            return library
        if day.year in self._override_years:
            return day.weekday() < 5
        raise CalendarNotCovered(day.year)

    def _next_workday(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        day += _DAY
        while not self.is_workday(day):
            day += _DAY
        return day

    def add(self, start: datetime, limit: TimeLimit) -> datetime:
        """The deadline ``limit`` after ``start`` (see the module docstring), in Asia/Shanghai."""
        local = _aware_in_tz(start, "start")
        if limit.unit is LimitUnit.MINUTES:
            return local + timedelta(minutes=limit.amount)
        if limit.unit is LimitUnit.HOURS:
            return local + timedelta(hours=limit.amount)
        if limit.unit is LimitUnit.NATURAL_DAYS:
            return local + timedelta(days=limit.amount)
        # WORKING_DAYS
        day = local.date()
        if not self.is_workday(day):
            day = self._next_workday(day)
            local = _midnight(day)
        for _ in range(limit.amount):
            day = self._next_workday(day)
        return datetime.combine(day, local.timetz())

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Working time from ``start`` to ``end`` in 24-hour days; negative if ``end`` is earlier.

        Only time that falls on working days counts (a working day contributes its whole 24
        hours), so this is the inverse of :meth:`add` with ``WORKING_DAYS``. Raises
        :class:`CalendarNotCovered` if a day in between cannot be classified.
        """
        lo = _aware_in_tz(start, "start")
        hi = _aware_in_tz(end, "end")
        if hi < lo:
            return -self.working_days_between(end, start)
        seconds = 0.0
        day = lo.date()
        while _midnight(day) < hi:
            if self.is_workday(day):
                begin = max(lo, _midnight(day))
                finish = min(hi, _midnight(day + _DAY))
                seconds += (finish - begin).total_seconds()
            day += _DAY
        return seconds / _DAY.total_seconds()
