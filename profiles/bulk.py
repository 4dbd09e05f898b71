"""The rows a list's bulk action names: this organisation's, all of them, or nothing.

A bulk form sends the UUIDs of the ticked rows. Each must name a row of this organisation
(and of the list's kind): one that does not (another organisation's, a deleted one, a
malformed value) refuses the whole selection, so nothing is done on a partial guess.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

# A page of a list is 25 rows; a crafted selection is bounded all the same.
MOST = 100

M = TypeVar("M", bound=Model)


class Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def selected(values: Sequence[str], queryset: QuerySet[M], order: Sequence[str]) -> list[M]:
    """The rows of `queryset` (already this organisation's) named by `values`, or Refused."""
    if not values:
        raise Refused(_("Select at least one row first."))
    if len(values) > MOST:
        raise Refused(_("Select at most %(n)d rows at once.") % {"n": MOST})
    try:
        wanted = {uuid.UUID(value) for value in values}
    except ValueError:
        raise Refused(_("The selection could not be read: nothing was done.")) from None
    rows: list[Any] = list(queryset.filter(uuid__in=wanted).order_by(*order))
    if len(rows) != len(wanted):
        raise Refused(
            _("Some of the selected rows are not in this list any more: nothing was done.")
        )
    return rows
