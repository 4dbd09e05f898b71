"""Storage down is a page that says so, never a 500."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from profiles.storage import StorageUnavailable


class StorageUnavailableMiddleware:
    """Placed inside the tenant middleware, so that the page renders in the tenant's scope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, StorageUnavailable):
            return None
        match = request.resolver_match
        if match is not None and match.namespace == "portal":
            response = render(request, "portal/message.html", {"kind": "unavailable"}, status=503)
        else:
            response = render(request, "storage_unavailable.html", status=503)
        response["Retry-After"] = "120"
        response["Cache-Control"] = "no-store"
        return response
