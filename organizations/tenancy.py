"""Cross-tenant jobs: the one way to visit the rows of several organisations."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from operator import attrgetter
from typing import Any, TypeVar

from django_scopes import scope

T = TypeVar("T")


def each_in_scope(
    items: Iterable[T], organization_of: Callable[[T], Any] = attrgetter("organization")
) -> Iterator[T]:
    """Yields each item with its organisation's scope open around the caller's loop body.

    The items are read across tenants by the caller, who says so with `scopes_disabled()`;
    what the body then does for an item stays inside that item's organisation.
    """
    for item in items:
        with scope(organization=organization_of(item)):
            yield item
