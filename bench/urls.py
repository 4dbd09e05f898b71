"""The project's URLs, plus the ceiling every back-office page is measured against.

The ceiling does what every back-office page does before its own work (session, user,
membership through the tenancy middleware, the base layout with its menus) and nothing else.
It lives here, not in the product, so that only the benchmark's server serves it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns

BASE_ONLY = engines["django"].from_string('{% extends "base.html" %}')


def ceiling(request: HttpRequest, org_slug: str) -> HttpResponse:
    return HttpResponse(BASE_ONLY.render({}, request))


urlpatterns = [
    path("o/<slug:org_slug>/bench-ceiling/", ceiling, name="bench_ceiling"),
    *project_urlpatterns,
]
