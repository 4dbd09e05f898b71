"""`/readyz` and `/metrics` for operators, Settings > Status for an organisation's admins."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_safe

from operations import metrics as prometheus
from operations import readiness, selectors
from organizations.clientip import client_ip
from organizations.decorators import admin_required
from organizations.http import OrganizationRequest


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    """For load balancers and compose: 200 when the database, the broker and storage each
    answered within the timeout, else 503 naming the ones that did not."""
    checks = readiness.check_all()
    ready = all(check.ok for check in checks)
    return JsonResponse(
        {"status": "ok" if ready else "unavailable"}
        | {check.name: check.state for check in checks},
        status=200 if ready else 503,
    )


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    address = client_ip(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(
        ip in ipaddress.ip_network(network, strict=False) for network in settings.METRICS_NETWORKS
    )


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN and not settings.METRICS_NETWORKS:
        # Nobody was let in: the page does not exist.
        raise Http404
    if not _metrics_allowed(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(prometheus.exposition(), content_type=prometheus.CONTENT_TYPE)


@admin_required
@never_cache
@require_GET
def status(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    found = selectors.organization_status(request.organization)
    now = timezone.now()
    return render(
        request,
        "operations/status.html",
        {
            "status": found,
            "stalled": found.oldest_waiting is not None
            and now - found.oldest_waiting > selectors.STALLED_AFTER,
        },
    )
