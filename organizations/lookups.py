"""The one way a view reaches a tenant's object: this organisation's, or a 404."""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

M = TypeVar("M", bound=models.Model)


def get_for_org(
    request: HttpRequest, model_or_queryset: type[M] | models.QuerySet[M], **lookup: object
) -> M:
    queryset = (
        model_or_queryset
        if isinstance(model_or_queryset, models.QuerySet)
        else model_or_queryset._default_manager.all()
    )
    organization = getattr(request, "organization", None)
    if organization is None:
        raise Http404
    try:
        return get_object_or_404(queryset.filter(organization=organization), **lookup)
    except (ValueError, ValidationError, models.ObjectDoesNotExist):
        # A malformed UUID in the URL is a missing object, not a server error.
        raise Http404 from None


def search_query(request: HttpRequest, limit: int = 100) -> str:
    """The search box's text, safe for any database."""
    return clean_query(request.GET.get("q", ""), limit)


def clean_query(value: str, limit: int = 100) -> str:
    """A search text safe for any database (PostgreSQL refuses NUL characters)."""
    return value.replace("\x00", "").strip()[:limit]
