"""Keyset pages of a log that only grows (the audit log, a profile's history): newest first,
by a moment and the id, each page read from where the last one stopped.

A page reads its rows and one more from an index on (…, moment, id) and stops: nor OFFSET
nor COUNT(*), which read every row before the page or in the log and grow with ten years of
it. The links say "Newer" and "Older" rather than "page 3 of 90,000", which no one reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db.models import Model, QuerySet
from django.http import QueryDict

M = TypeVar("M", bound=Model)

BEFORE, AFTER = "before", "after"


def _cursor(moment: dt.datetime, pk: int) -> str:
    # Microseconds since the epoch in UTC: a plain number in the address, no zone to escape.
    stamp = moment.astimezone(dt.UTC)
    micros = (stamp - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return f"{micros}.{pk}"


def _parse(value: str | None) -> tuple[dt.datetime, int] | None:
    """A cursor from the address, or None for one that is not ours (the first page then)."""
    if not value:
        return None
    micros, _dot, pk = value.partition(".")
    try:
        moment = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(micros))
        return moment, int(pk)
    except (ValueError, OverflowError):
        return None


@dataclass
class KeysetPage(Generic[M]):
    rows: list[M]
    # The address's other parameters (the filters), kept by the links.
    query: QueryDict
    newer_cursor: str | None = None
    older_cursor: str | None = None
    # Not the newest page: a link back to the newest.
    later: bool = False

    def __iter__(self) -> Iterator[M]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def _link(self, **cursor: str) -> str:
        query = self.query.copy()
        for name in (BEFORE, AFTER):
            query.pop(name, None)
        for name, value in cursor.items():
            query[name] = value
        return "?" + query.urlencode() if query else "?"

    @property
    def has_other_pages(self) -> bool:
        return self.later or self.older_cursor is not None

    @property
    def newest_link(self) -> str:
        return self._link()

    @property
    def newer_link(self) -> str | None:
        return self._link(after=self.newer_cursor) if self.newer_cursor else None

    @property
    def older_link(self) -> str | None:
        return self._link(before=self.older_cursor) if self.older_cursor else None


def keyset_page(
    rows: QuerySet[M], query: QueryDict, *, moment: str, size: int = 50
) -> KeysetPage[M]:
    """The page of `rows` (newest first by `moment`, then id) that the address's `before` or
    `after` cursor names, or the newest page."""
    before, after = _parse(query.get(BEFORE)), _parse(query.get(AFTER))
    if after is not None:
        at, pk = after
        # The rows just newer than the cursor, oldest first, then turned newest first.
        newer = list(
            rows.filter(**{f"{moment}__gte": at})
            .exclude(**{moment: at, "pk__lte": pk})
            .order_by(moment, "pk")[: size + 1]
        )
        more_newer = len(newer) > size
        page = newer[:size][::-1]
        if not more_newer:
            # The newest rows: the first page, as the newest link shows it (full, and with
            # its own older link).
            return keyset_page(rows, _without_cursors(query), moment=moment, size=size)
        return _page(page, query, moment, later=True, older=True)
    if before is not None:
        at, pk = before
        # `moment <= at` bounds the index scan; the tie on the moment is settled by the id.
        found = list(
            rows.filter(**{f"{moment}__lte": at})
            .exclude(**{moment: at, "pk__gte": pk})
            .order_by(f"-{moment}", "-pk")[: size + 1]
        )
        return _page(found[:size], query, moment, later=True, older=len(found) > size)
    found = list(rows.order_by(f"-{moment}", "-pk")[: size + 1])
    return _page(found[:size], query, moment, later=False, older=len(found) > size)


def _without_cursors(query: QueryDict) -> QueryDict:
    query = query.copy()
    for name in (BEFORE, AFTER):
        query.pop(name, None)
    return query


def _page(
    rows: list[M], query: QueryDict, moment: str, *, later: bool, older: bool
) -> KeysetPage[M]:
    page = KeysetPage(rows=rows, query=_without_cursors(query), later=later)
    if rows and later:
        page.newer_cursor = _cursor(getattr(rows[0], moment), rows[0].pk)
    if rows and older:
        page.older_cursor = _cursor(getattr(rows[-1], moment), rows[-1].pk)
    return page
