"""Spreading an occurrence's requests over N working days.

The window of an occurrence is the first N working days (Monday to Friday) on or after its
date; a profile's day in it is a hash of its UUID (its last 32 bits, modulo N), so that it
is asked on the same day of every window and 10,000 requests become 10,000 / N a day. The
period of the request stays the occurrence: one dossier per (group, period, profile) holds.

`day_of` is the Python form of the hash, `SpreadDay` the database's (on each vendor's
stored form of a UUID); tests/monitoring/test_spread.py proves they agree.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Func, IntegerField

from monitoring.schedule import UNITS

MAX_SPREAD = 250
WORKING_DAYS = 5
# The shortest a period of one unit can be, in days (February for a month).
_SHORTEST = {"days": 1, "weeks": 7, "months": 28, "years": 365}


def window(period: dt.date, days: int) -> list[dt.date]:
    """The working days an occurrence on `period` is spread over; unspread, its date."""
    if days <= 1:
        return [period]
    found: list[dt.date] = []
    day = period
    while len(found) < days:
        if day.weekday() < WORKING_DAYS:
            found.append(day)
        day += dt.timedelta(days=1)
    return found


def day_of(profile_uuid: uuid.UUID, days: int) -> int:
    """A profile's day in a window of `days` days (0 is the first)."""
    return (profile_uuid.int & 0xFFFFFFFF) % days


def longest(count: int, unit: str) -> int:
    """The most working days a window may have so that, starting on any weekday, it ends
    before the next occurrence (N ≤ the period)."""
    if unit not in UNITS:
        return 1
    shortest = _SHORTEST[unit] * count
    best = 1
    for days in range(1, MAX_SPREAD + 1):
        # The worst start is a Saturday: two days pass before the first working day, then a
        # weekend after each five.
        last = 2 + (days - 1) + 2 * ((days - 1) // WORKING_DAYS)
        if last >= shortest:
            break
        best = days
    return best


class SpreadDay(Func):
    """`day_of` in the database, for a UUID column: counts per day in one GROUP BY."""

    output_field = IntegerField()

    def __init__(self, expression: Any, days: int) -> None:
        super().__init__(expression)
        self.days = int(days)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = (
            "(('x' || right(replace(%(expressions)s::text, '-', ''), 8))::bit(32)::bigint"
            f" %%%% {self.days})"
        )
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # SQLite keeps a UUID as 32 hex digits: the last 8, digit by digit.
        digits = " + ".join(
            f"((instr('0123456789abcdef', lower(substr(%(expressions)s, {25 + i}, 1))) - 1)"
            f" * {16 ** (7 - i)})"
            for i in range(8)
        )
        return self.as_sql(compiler, connection, template=f"(({digits}) %%%% {self.days})", **extra)
