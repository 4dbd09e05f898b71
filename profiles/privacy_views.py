"""A profile's personal data: the export and the erasure, for administrators."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from organizations.actors import Actor
from organizations.decorators import admin_required
from organizations.lookups import get_for_org
from profiles import actions
from profiles.models import Profile
from profiles.privacy import StorageUnreachable


@admin_required
@require_GET
def privacy_export(request: HttpRequest, org_slug: str, profile_uuid: Any) -> FileResponse:
    profile: Profile = get_for_org(
        request, Profile.objects.select_related("company"), uuid=profile_uuid
    )
    archive = actions.export_profile(profile, actor=Actor.member(request.user))
    stamp = timezone.localdate().isoformat()
    response = FileResponse(
        archive,
        as_attachment=True,
        filename=f"personal-data-{profile.uuid}-{stamp}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I understand: the profile, its values, history, dossiers and files are deleted "
            "for good."
        )
    )


@admin_required
@require_http_methods(["GET", "POST"])
def privacy_erase(request: HttpRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = get_for_org(request, Profile, uuid=profile_uuid)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        url_kind = profile.url_kind
        try:
            actions.erase_profile(profile, actor=Actor.member(request.user))
        except StorageUnreachable:
            form.add_error(
                None,
                _("The files could not be deleted just now, so nothing was erased. Try again."),
            )
        else:
            messages.success(request, _("The profile and everything about it were erased."))
            return redirect("profiles:list", org_slug=org_slug, url_kind=url_kind)
    return render(request, "profiles/erase.html", {"profile": profile, "form": form})
