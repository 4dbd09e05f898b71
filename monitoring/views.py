from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from monitoring.forms import ExpiryForm, UpdateGroupForm
from monitoring.models import UpdateGroup
from monitoring.services import FieldTaken, save_group, set_active
from organizations.decorators import admin_required
from organizations.lookups import get_for_org
from organizations.models import AuditEntry, audit
from outbox.models import Message
from profiles.models import DataField, FieldValue, Profile


def _groups(request: HttpRequest) -> Any:
    return UpdateGroup.objects.filter(organization=request.organization).prefetch_related(
        Prefetch("fields", queryset=DataField.objects.order_by("position", "id"))
    )


@admin_required
def group_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    return render(
        request,
        "monitoring/group_list.html",
        {"groups": list(_groups(request)), "monitoring": True},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def group_form(request: HttpRequest, org_slug: str, group_uuid: Any = None) -> HttpResponse:
    group = get_for_org(request, UpdateGroup, uuid=group_uuid) if group_uuid else None
    form = UpdateGroupForm(request.POST or None, instance=group, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        try:
            group = save_group(form)
        except FieldTaken:
            form.add_error(
                "fields", _("A chosen field was just added to another group. Please check again.")
            )
        else:
            audit(
                request,
                AuditEntry.Action.GROUP_UPDATED if group_uuid else AuditEntry.Action.GROUP_CREATED,
                group,
                fields=", ".join(f.label for f in form.cleaned_data["fields"]),
                frequency=group.frequency_display,
                start=group.start_date,
            )
            messages.success(
                request, _("The group “%(title)s” was saved.") % {"title": group.title}
            )
            return redirect("monitoring:group_detail", org_slug=org_slug, group_uuid=group.uuid)
    return render(
        request, "monitoring/group_form.html", {"form": form, "group": group, "monitoring": True}
    )


@admin_required
def group_detail(request: HttpRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    group = get_for_org(request, _groups(request), uuid=group_uuid)
    runs = list(group.runs.all()[:10])
    # The run's follow-up: the e-mails its dossiers could not deliver, counted per period.
    undeliverable = dict(
        Message.objects.filter(
            dossier__update_group=group,
            dossier__period__in=[run.period for run in runs],
            status=Message.Status.UNDELIVERABLE,
        )
        .values_list("dossier__period")
        .annotate(count=Count("id"))
        .order_by()
    )
    for run in runs:
        run.undeliverable = undeliverable.get(run.period, 0)
    return render(
        request,
        "monitoring/group_detail.html",
        {"group": group, "runs": runs, "monitoring": True},
    )


@admin_required
@require_POST
def group_toggle(request: HttpRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    set_active(group, not group.is_active)
    action = AuditEntry.Action.GROUP_RESUMED if group.is_active else AuditEntry.Action.GROUP_PAUSED
    audit(request, action, group)
    if group.is_active:
        messages.success(request, _("The group was resumed."))
    else:
        messages.success(request, _("The group was paused: no dossier opens until it resumes."))
    return redirect("monitoring:group_detail", org_slug=org_slug, group_uuid=group.uuid)


@admin_required
@require_POST
def group_delete(request: HttpRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    title = group.title
    group.delete()
    audit(request, AuditEntry.Action.GROUP_DELETED, title)
    messages.success(
        request,
        _(
            "The group “%(title)s” was deleted; its fields are free and its open dossiers "
            "run their course."
        )
        % {"title": title},
    )
    return redirect("monitoring:group_list", org_slug=org_slug)


@require_http_methods(["GET", "POST"])
def value_popup(
    request: HttpRequest, org_slug: str, profile_uuid: Any, field_uuid: Any
) -> HttpResponse:
    """The "⋯" of a filled field: its expiry date, its next update date and its frequency."""
    profile = get_for_org(request, Profile, uuid=profile_uuid)
    field = get_for_org(request, DataField.objects.select_related("update_group"), uuid=field_uuid)
    value = FieldValue.objects.filter(profile=profile, field=field).first()
    profile_url = reverse("profiles:detail", args=[org_slug, profile.uuid])
    context: dict[str, Any] = {"profile": profile, "field": field, "value": value}
    template = "monitoring/popup.html" if request.htmx else "monitoring/popup_page.html"
    if value is None or value.value is None:
        context["empty"] = True
        return render(request, template, context, status=400 if request.method == "POST" else 404)
    form = ExpiryForm(request.POST or None, initial={"expires_on": value.expires_on})
    if request.method == "POST":
        before = value.expires_on
        if request.POST.get("action") == "clear":
            value.expires_on = None
        elif form.is_valid():
            value.expires_on = form.cleaned_data["expires_on"]
        else:
            context["form"] = form
            return render(request, template, context, status=422 if request.htmx else 200)
        value.save(update_fields=["expires_on", "updated_at"])
        audit(
            request,
            AuditEntry.Action.EXPIRY_SET if value.expires_on else AuditEntry.Action.EXPIRY_CLEARED,
            f"{profile.display_name} — {field.label}",
            before=before,
            after=value.expires_on,
        )
        messages.success(
            request, _("The expiry date of “%(label)s” was saved.") % {"label": field.label}
        )
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = profile_url
            return response
        return redirect(profile_url)
    context["form"] = form
    return render(request, template, context)
