"""Limits and headers every response gets, whichever app answers it."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

# Anonymous requests outside the portal are logins, resets and invitations: a few fields.
ANONYMOUS_BODY_LIMIT = 256 * 1024

# Callers that are not logged-in users but may send the full limit, recognised by the app
# that knows them (the API registers its read-write keys, the portal its live links): this
# app imports none to its right.
FULL_BODY_GRANTS: list[Callable[[HttpRequest], bool]] = []

# Told of each body refused for its size, so that the app behind the path can count it (the
# portal counts it as a bad token: a client probing links with large bodies is slowed down).
BODY_REFUSALS: list[Callable[[HttpRequest], None]] = []


class RequestBodyLimitMiddleware:
    """Refuses a body over the limit from its declared length, before anything reads it.

    Django bounds the fields it keeps in memory, but spools uploaded files of any size to
    disk; an anonymous 60 MB post to the login page would be read in full.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        # The user is looked up only for a body too large for anyone anonymous.
        if length > ANONYMOUS_BODY_LIMIT and length > self._limit(request):
            for refused in BODY_REFUSALS:
                refused(request)
            response = render(request, "413.html", status=413)
            # The unread body stays on the socket: the connection cannot be reused.
            response["Connection"] = "close"
            return response
        return self.get_response(request)

    @staticmethod
    def _limit(request: HttpRequest) -> int:
        if request.user.is_authenticated or any(grant(request) for grant in FULL_BODY_GRANTS):
            return settings.REQUEST_BODY_LIMIT_MB * 1024 * 1024
        return ANONYMOUS_BODY_LIMIT


class SecurityHeadersMiddleware:
    """No page of ours is kept by a browser or a proxy cache, and none may use the camera,
    the microphone or the location: back-office pages show clients' personal data."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        if "Cache-Control" not in response.headers:
            response["Cache-Control"] = "no-store"
        return response
