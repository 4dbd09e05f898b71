"""Dates and numbers as an organisation's people read them: one date style everywhere.

Each organisation picks a date style (31/01/2027 by default, ISO as an option, or the US
order); pages, pop-ups and e-mails all format through `day` and `moment`, so one page
never mixes "11/29/2026", "Jan. 1, 2027" and "7:22 p.m.". Times are 24-hour. The style is
set for the duration of a request, a portal page or an e-mail's rendering (`style_of`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from django.utils import formats, timezone

PATTERNS = {"dmy": "%d/%m/%Y", "iso": "%Y-%m-%d", "mdy": "%m/%d/%Y"}
DEFAULT_STYLE = "dmy"
_style: ContextVar[str] = ContextVar("date_style", default=DEFAULT_STYLE)


@contextmanager
def style_of(organization: Any) -> Iterator[None]:
    token = _style.set(getattr(organization, "date_style", None) or DEFAULT_STYLE)
    try:
        yield
    finally:
        _style.reset(token)


def day(value: dt.date | dt.datetime | None) -> str:
    """A date in the organisation's style; a moment is first put in the current zone."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    return value.strftime(PATTERNS.get(_style.get(), PATTERNS[DEFAULT_STYLE]))


def moment(value: dt.datetime | None) -> str:
    """A date and a 24-hour time, in the current time zone."""
    if value is None or value == "":
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{day(local)} {local:%H:%M}"


def number(value: int | Decimal | float | None) -> str:
    """A number with the active language's separators (1 000 in French, 1,000 in English)."""
    if value is None or value == "":
        return ""
    if type(value) is int and -1000 < value < 1000:
        # No separator to place: what the formatting would give, without its look-ups of
        # the language's formats (a chart writes dozens of small counts a page).
        return str(value)
    return formats.number_format(value, use_l10n=True, force_grouping=True)
