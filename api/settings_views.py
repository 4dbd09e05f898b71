"""Settings > API: the organisation's keys, for administrators."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api import audit as audit_actions
from api.forms import ApiKeyForm
from api.models import ApiKey
from organizations.decorators import admin_required
from organizations.http import OrganizationRequest
from organizations.lookups import get_for_org
from organizations.models import audit


@admin_required
@never_cache
@require_http_methods(["GET", "POST"])
def key_list(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            api_key, new_key = ApiKey.issue(
                request.organization,
                name=form.cleaned_data["name"],
                access=form.cleaned_data["access"],
                created_by=request.user,
            )
            audit(
                request,
                audit_actions.KEY_CREATED,
                api_key,
                access=api_key.get_access_display(),
                prefix=api_key.prefix,
            )
            # Shown on this page only, never stored in clear: no redirect to carry it.
            form = ApiKeyForm()
        else:
            status = 400
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
    if api_key.revoke(request.user):
        audit(request, audit_actions.KEY_REVOKED, api_key, prefix=api_key.prefix)
        messages.success(
            request,
            _("The key “%(name)s” was revoked: it no longer opens the API.")
            % {"name": api_key.name},
        )
    return redirect("api_keys", org_slug=org_slug)
