from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

R = TypeVar("R", bound=HttpResponseBase)


def admin_required(view: Callable[..., R]) -> Callable[..., R]:
    """Settings are for the organisation's administrators only."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> R:
        membership = getattr(request, "membership", None)
        if membership is None or not membership.is_admin:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
