"""Cursor pages: stable while rows are added, and as fast on page 1,000 as on page 1."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size_query_param = "page_size"
    max_page_size = 200


class InPosition(NewestFirst):
    ordering = ("position", "id")


class LatestPeriodFirst(NewestFirst):
    ordering = ("-period", "-id")
