"""Settings > API (the organisation's keys) and Settings > Webhooks, for administrators."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api import actions
from api.forms import ApiKeyForm, WebhookForm
from api.models import ApiKey, WebhookDelivery, WebhookEndpoint
from organizations.actors import Actor
from organizations.decorators import admin_required
from organizations.http import OrganizationRequest
from organizations.lookups import get_for_org


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def key_list(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                issued = actions.create_api_key(
                    request.organization,
                    actor=Actor.member(request.user),
                    name=form.cleaned_data["name"],
                    access=form.cleaned_data["access"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                # Shown on this page only, never stored in clear: no redirect to carry it.
                new_key, form, status = issued.key, ApiKeyForm(), 200
    keys = ApiKey.objects.filter(organization=request.organization).select_related(
        "created_by", "revoked_by"
    )
    return render(
        request,
        "api/keys.html",
        {"form": form, "keys": keys, "new_key": new_key},
        status=status,
    )


@admin_required
@require_POST
def key_revoke(request: OrganizationRequest, org_slug: str, key_uuid: Any) -> HttpResponse:
    api_key = get_for_org(request, ApiKey, uuid=key_uuid)
    if actions.revoke_api_key(api_key, actor=Actor.member(request.user)):
        messages.success(
            request,
            _("The key “%(name)s” was revoked: it no longer opens the API.")
            % {"name": api_key.name},
        )
    return redirect("api_keys", org_slug=org_slug)


# Settings > Webhooks


@admin_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    form = WebhookForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = actions.create_endpoint(
                request.organization,
                actor=Actor.member(request.user),
                url=form.cleaned_data["url"],
                events=form.cleaned_data["events"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The endpoint was added. Its secret signs every delivery."))
            return redirect("api_webhook", org_slug=org_slug, endpoint_uuid=endpoint.uuid)
    endpoints = WebhookEndpoint.objects.filter(organization=request.organization)
    return render(
        request,
        "api/webhooks.html",
        {"form": form, "endpoints": endpoints},
        status=400 if form.errors else 200,
    )


@admin_required
@never_cache
def webhook_detail(request: OrganizationRequest, org_slug: str, endpoint_uuid: Any) -> HttpResponse:
    endpoint = get_for_org(request, WebhookEndpoint, uuid=endpoint_uuid)
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")
    page = Paginator(deliveries, 50).get_page(request.GET.get("page"))
    return render(request, "api/webhook_detail.html", {"endpoint": endpoint, "page": page})


@admin_required
@require_POST
def webhook_delete(request: OrganizationRequest, org_slug: str, endpoint_uuid: Any) -> HttpResponse:
    endpoint = get_for_org(request, WebhookEndpoint, uuid=endpoint_uuid)
    actions.delete_endpoint(endpoint, actor=Actor.member(request.user))
    messages.success(request, _("The endpoint was removed: it receives nothing more."))
    return redirect("api_webhooks", org_slug=org_slug)


@admin_required
@require_POST
def webhook_test(request: OrganizationRequest, org_slug: str, endpoint_uuid: Any) -> HttpResponse:
    endpoint = get_for_org(request, WebhookEndpoint, uuid=endpoint_uuid)
    actions.send_test_event(endpoint, actor=Actor.member(request.user))
    messages.success(request, _("A test event is on its way; its delivery shows below."))
    return redirect("api_webhook", org_slug=org_slug, endpoint_uuid=endpoint.uuid)


@admin_required
@require_POST
def webhook_again(request: OrganizationRequest, org_slug: str, delivery_uuid: Any) -> HttpResponse:
    delivery: WebhookDelivery = get_for_org(
        request, WebhookDelivery.objects.select_related("endpoint"), uuid=delivery_uuid
    )
    actions.resend_delivery(delivery, actor=Actor.member(request.user))
    messages.success(request, _("The delivery was queued again, with the same id and body."))
    return redirect("api_webhook", org_slug=org_slug, endpoint_uuid=delivery.endpoint.uuid)
