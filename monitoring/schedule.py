"""Schedule arithmetic of update groups, free of the database.

Occurrence k is start + k * interval, always computed from the start date and never from
the previous occurrence, so that a group starting on 31 January runs on 28 or 29 February
and again on 31 March. Dates are the organisation's local dates; the moment a date comes due
is RUN_TIME on that date in the organisation's time zone, stored in UTC.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

RUN_TIME = dt.time(8, 0)
UNITS = ("days", "weeks", "months", "years")
# A schedule must hold, without leaving the calendar (year 9999), every occurrence of the
# next HORIZON_YEARS and the few listed after them on the group's page.
HORIZON_YEARS = 100
LISTED = 6


def occurrence(start: dt.date, count: int, unit: str, k: int) -> dt.date:
    if unit not in UNITS:
        raise ValueError(f"unknown unit {unit!r}")
    return start + relativedelta(**{unit: count * k})


def due_at(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The UTC moment a local date comes due (RUN_TIME there, whatever the DST offset)."""
    return dt.datetime.combine(day, RUN_TIME, tzinfo=tz).astimezone(dt.UTC)


def _approx_days(count: int, unit: str) -> float:
    return count * {"days": 1, "weeks": 7, "months": 30.436875, "years": 365.2425}[unit]


def first_index_on_or_after(start: dt.date, count: int, unit: str, day: dt.date) -> int:
    """The smallest k whose occurrence falls on or after `day`."""
    if day <= start:
        return 0
    # An estimate from the mean length of the unit, then corrected by exact arithmetic.
    k = max(0, int((day - start).days / _approx_days(count, unit)) - 1)
    while occurrence(start, count, unit, k) >= day and k > 0:
        k -= 1
    while occurrence(start, count, unit, k) < day:
        k += 1
    return k


def last_index_due(
    start: dt.date, count: int, unit: str, tz: ZoneInfo, now: dt.datetime
) -> int | None:
    """The largest k whose occurrence is due at `now`, or None if none is yet."""
    today = now.astimezone(tz).date()
    k = first_index_on_or_after(start, count, unit, today + dt.timedelta(days=1)) - 1
    while k >= 0 and due_at(occurrence(start, count, unit, k), tz) > now:
        k -= 1
    return k if k >= 0 else None


def within_calendar(start: dt.date, count: int, unit: str, today: dt.date) -> bool:
    """Whether every occurrence up to HORIZON_YEARS from today, and LISTED more, exists."""
    try:
        horizon = today + relativedelta(years=HORIZON_YEARS)
        if start > horizon:
            return False
        k = first_index_on_or_after(start, count, unit, horizon)
        occurrence(start, count, unit, k + LISTED)
    except (OverflowError, ValueError):
        return False
    return True
