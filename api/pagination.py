"""Cursor pages: stable while rows are added, and as fast on page 1,000 as on page 1."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from rest_framework.exceptions import NotFound
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(
        self, queryset: Any, request: Request, view: APIView | None = None
    ) -> Any:
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request: Request) -> Cursor | None:
        """DRF checks a cursor's offset but hands its position to the database as it came:
        a crafted one ("p=tomorrow", a year 10,000, a NUL) was a 500. Anything the column
        could not hold is the same 404 as a cursor that does not decode."""
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        # `self.ordering` is the one DRF settled on for this request, before decoding.
        field = self._model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            _check_position(field, str(cursor.position))
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise NotFound(self.invalid_cursor_message) from None
        return cursor


def _check_position(field: models.Field[Any, Any], position: str) -> None:
    if "\x00" in position:
        raise ValueError("NUL")
    value = field.to_python(position)
    field.run_validators(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive")
        value.astimezone(dt.UTC)


class InPosition(NewestFirst):
    ordering = ("position", "id")


class LatestPeriodFirst(NewestFirst):
    ordering = ("-period", "-id")
