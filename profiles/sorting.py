"""Sortable columns of the back-office lists: a whitelist of keys per list, kept in the URL.

`?sort=name` sorts by a column, `?sort=-name` the other way; a key not in the list's
whitelist is ignored (the list keeps its default order), never an error. Each key names its
`order_by` columns, ending with a unique one so that pages never overlap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict
from django.utils.functional import Promise


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool
    order_by: tuple[str, ...]

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key


def _reversed(column: str) -> str:
    return column[1:] if column.startswith("-") else f"-{column}"


def chosen(value: str | None, columns: Mapping[str, Sequence[str]], default: str) -> Sort:
    """The sort the URL asks for, or the list's default when it names no known column."""
    raw = (value or "").strip()
    key = raw.removeprefix("-")
    if key not in columns:
        raw, key = default, default.removeprefix("-")
    descending = raw.startswith("-")
    order = tuple(columns[key])
    return Sort(
        key=key,
        descending=descending,
        order_by=tuple(_reversed(c) for c in order) if descending else order,
    )


def headers(
    query: QueryDict, labels: Sequence[tuple[str, str | Promise]], current: Sort
) -> list[dict[str, Any]]:
    """One entry per sortable column: its link (the other filters kept, back to page 1), and
    its `aria-sort` when the list is sorted by it. A second click reverses the order."""
    found = []
    for key, label in labels:
        params = query.copy()
        params.pop("page", None)
        active = key == current.key
        params["sort"] = key if not active or current.descending else f"-{key}"
        found.append(
            {
                "key": key,
                "label": label,
                "url": f"?{params.urlencode()}",
                "aria_sort": ("descending" if current.descending else "ascending")
                if active
                else "",
            }
        )
    return found
