"""The project's URLs, plus the pages every measured page is compared with.

The ceiling does what every back-office page does before its own work (session, user,
membership through the tenancy middleware, the base layout with its menus) and nothing else.
The submit floor does what the portal's submit cannot avoid: the same middleware, the same
multipart body parsed and its files written to storage, and nothing else.
They live here, not in the product, so that only the benchmark's server serves them.
"""

from __future__ import annotations

import uuid

from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as project_urlpatterns
from organizations.security import FULL_BODY_GRANTS

BASE_ONLY = engines["django"].from_string('{% extends "base.html" %}')
# The same layout without its main menu: the section's breakdown of the ceiling weighs it.
BASE_WITHOUT_MENU = engines["django"].from_string(
    '{% extends "base.html" %}{% block mainnav %}{% endblock %}'
)

SUBMIT_FLOOR = "/d/bench/submit-floor/"


def _floor_takes_full_bodies(request: HttpRequest) -> bool:
    # The floor has no token, and a portal path without a live one gets the anonymous limit
    # (organizations.security): the floor is let through as a live link is.
    return request.path == SUBMIT_FLOOR


if _floor_takes_full_bodies not in FULL_BODY_GRANTS:
    FULL_BODY_GRANTS.append(_floor_takes_full_bodies)


def ceiling(request: HttpRequest, org_slug: str) -> HttpResponse:
    return HttpResponse(BASE_ONLY.render({}, request))


def ceiling_without_menu(request: HttpRequest, org_slug: str) -> HttpResponse:
    return HttpResponse(BASE_WITHOUT_MENU.render({}, request))


@require_POST
def submit_floor(request: HttpRequest) -> HttpResponse:
    for upload in request.FILES.values():
        default_storage.save(f"bench-floor/{uuid.uuid4().hex}", upload)
    return HttpResponse(str(len(request.POST)))


urlpatterns = [
    path("o/<slug:org_slug>/bench-ceiling/", ceiling, name="bench_ceiling"),
    path(
        "o/<slug:org_slug>/bench-ceiling/no-menu/",
        ceiling_without_menu,
        name="bench_ceiling_without_menu",
    ),
    # Under /d/, as the portal: the same body limit applies (organizations.security).
    path("d/bench/submit-floor/", submit_floor, name="bench_submit_floor"),
    *project_urlpatterns,
]
