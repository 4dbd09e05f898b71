from __future__ import annotations

import csv
import datetime as dt
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from dossiers.models import Dossier
from monitoring import audit as audit_actions
from monitoring import followup, schedule
from monitoring.dispatch import current_index, dispatch_group_now
from monitoring.forms import ExpiryForm, UpdateGroupForm
from monitoring.models import UpdateGroup, UpdateRun
from monitoring.services import FieldTaken, save_group, set_active
from organizations.decorators import admin_required
from organizations.lookups import get_for_org, search_query
from organizations.models import audit
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
                audit_actions.GROUP_UPDATED if group_uuid else audit_actions.GROUP_CREATED,
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
    counts = followup.outcomes(group, [run.period for run in runs])
    for run in runs:
        run.outcomes = counts[run.period]
    return render(
        request,
        "monitoring/group_detail.html",
        {
            "group": group,
            "runs": runs,
            "monitoring": True,
            "send_hour": schedule.RUN_TIME,
            "time_zone": request.organization.time_zone,
        },
    )


def _run(request: HttpRequest, group_uuid: Any, period: str) -> tuple[UpdateGroup, UpdateRun]:
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    try:
        day = dt.date.fromisoformat(period)
    except ValueError:
        raise Http404 from None
    run = UpdateRun.objects.filter(group=group, period=day).first()
    if run is None:
        raise Http404
    return group, run


def run_detail(request: HttpRequest, org_slug: str, group_uuid: Any, period: str) -> HttpResponse:
    """A run's follow-up: its counts, and who has not answered, with filters and search."""
    group, run = _run(request, group_uuid, period)
    status = request.GET.get("status", "")
    query = search_query(request)
    rows = followup.outstanding(group, run.period, status=status, query=query)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "monitoring/run_detail.html",
        {
            "group": group,
            "run": run,
            "outcomes": followup.outcomes(group, [run.period])[run.period],
            "page": page,
            "statuses": [(s.value, s.label) for s in followup.OUTSTANDING],
            "status": status,
            "query": query,
            "labels": dict(Dossier.Status.choices),
        },
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def run_export(request: HttpRequest, org_slug: str, group_uuid: Any, period: str) -> Any:
    """The outstanding list of a run as CSV, streamed: flat memory whatever its length."""
    group, run = _run(request, group_uuid, period)
    rows = followup.outstanding(
        group, run.period, status=request.GET.get("status", ""), query=search_query(request)
    )
    labels = dict(Dossier.Status.choices)
    writer = csv.writer(_Echo())

    def lines() -> Any:
        yield writer.writerow(
            [_("Last name"), _("First name"), _("Company"), _("Status"), _("First opened"), "ID"]
        )
        for last, first, company, _uuid, state, opened_at, ref in rows.iterator():
            yield writer.writerow(
                [
                    _csv_safe(last),
                    _csv_safe(first),
                    _csv_safe(company),
                    labels.get(state, state),
                    opened_at.isoformat() if opened_at else "",
                    ref,
                ]
            )

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    name = f"{group.title}-{run.period:%Y-%m-%d}-outstanding.csv"
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


def _csv_safe(text: str) -> str:
    """A cell a spreadsheet will not run as a formula (names are typed by clients)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _recipients(request: HttpRequest, group: UpdateGroup) -> Any:
    return Profile.objects.filter(
        organization=request.organization, kind=group.applies_to, archived_at__isnull=True
    ).order_by("last_name", "first_name", "name", "id")


@admin_required
@require_http_methods(["GET", "POST"])
def group_send_now(request: HttpRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    """Sends the current period now, after saying how many will receive it."""
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    today = timezone.localdate()
    period = group.occurrence(
        current_index(group.start_date, group.interval_count, group.interval_unit, today)
    )
    existing = UpdateRun.objects.filter(group=group, period=period).first()
    if request.method == "POST" and group.is_active:
        dispatch_group_now(group.pk)
        audit(request, audit_actions.GROUP_SENT_NOW, group, period=period)
        messages.success(
            request,
            _("The dossiers of the period of %(date)s are being opened and sent.")
            % {"date": formats.date_format(period, "SHORT_DATE_FORMAT")},
        )
        return redirect(
            "monitoring:run_detail",
            org_slug=org_slug,
            group_uuid=group.uuid,
            period=period.isoformat(),
        )
    return render(
        request,
        "monitoring/send_now.html",
        {
            "group": group,
            "period": period,
            "existing": existing,
            "count": _recipients(request, group).count(),
            "monitoring": True,
        },
    )


@admin_required
def group_recipients(request: HttpRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    """Who receives the group's dossiers: its type's active contacts or companies."""
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    page = Paginator(_recipients(request, group), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "monitoring/recipients.html",
        {"group": group, "page": page, "monitoring": True},
    )


@admin_required
@require_POST
def group_toggle(request: HttpRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    set_active(group, not group.is_active)
    action = audit_actions.GROUP_RESUMED if group.is_active else audit_actions.GROUP_PAUSED
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
    audit(request, audit_actions.GROUP_DELETED, title)
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
            audit_actions.EXPIRY_SET if value.expires_on else audit_actions.EXPIRY_CLEARED,
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
