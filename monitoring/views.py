from __future__ import annotations

import datetime as dt
import itertools
from contextlib import suppress
from typing import Any, cast
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from dossiers.models import Dossier
from monitoring import (
    actions,
    followup,
    overview,
    rolling,
    schedule,
    services,
    triggers,
    workload,
)
from monitoring.dispatch import current_index
from monitoring.forms import ExpiryForm, UpdateGroupForm
from monitoring.models import PER_PROFILE, UpdateGroup, UpdateRun, group_of
from monitoring.rows import outstanding_html, overview_html
from monitoring.selectors import audience_fields, group_audience, outside_audience
from monitoring.services import preview
from organizations import display
from organizations.actors import Actor
from organizations.csvexport import csv_lines
from organizations.decorators import admin_required
from organizations.http import OrganizationRequest
from organizations.lookups import get_for_org, search_query
from profiles.conditions import describe
from profiles.models import DataField, FieldValue, Kind, Profile


class PopupRequest(OrganizationRequest):
    """The pop-up's request: loaded in place by htmx, or as a page without JavaScript."""

    htmx: HtmxDetails


def _groups(request: OrganizationRequest) -> Any:
    return (
        UpdateGroup.objects.filter(organization=request.organization)
        .select_related("due")
        .prefetch_related(Prefetch("fields", queryset=DataField.objects.order_by("position", "id")))
    )


@admin_required
def group_list(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    return render(
        request,
        "monitoring/group_list.html",
        {"groups": list(_groups(request)), "monitoring": True},
    )


@admin_required
@require_http_methods(["GET", "POST"])
def group_form(request: OrganizationRequest, org_slug: str, group_uuid: Any = None) -> HttpResponse:
    group = get_for_org(request, UpdateGroup, uuid=group_uuid) if group_uuid else None
    if "refresh" in request.POST:
        # Without JavaScript, a changed type asks for its fields to be listed: nothing is saved.
        form = _typed_form(request, request.POST, group)
    else:
        form = UpdateGroupForm(
            request.POST or None, instance=group, organization=request.organization
        )
    if request.method == "POST" and form.is_bound and form.is_valid():
        try:
            group = actions.save_group(
                form.save(commit=False),
                actor=Actor.member(request.user),
                fields=form.cleaned_data["fields"],
                triggers=form.cleaned_data["trigger_fields"],
            )
        except ValidationError as error:
            # The action's audience is the form's rows: its messages head the form.
            for name, problems in error.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
        else:
            messages.success(
                request, _("The group “%(title)s” was saved.") % {"title": group.title}
            )
            return redirect("monitoring:group_detail", org_slug=org_slug, group_uuid=group.uuid)
    return render(
        request,
        "monitoring/group_form.html",
        {**_live(request, form), "form": form, "group": group, "monitoring": True},
    )


def _typed_form(
    request: OrganizationRequest, values: Any, group: UpdateGroup | None
) -> UpdateGroupForm:
    """An unbound form showing what the admin typed: no validation, so no error yet."""
    typed = {
        name: values.getlist(name) if name in {"fields", "trigger_fields"} else values.get(name)
        for name in values
        if name not in {"csrfmiddlewaretoken", "refresh"}
    }
    return UpdateGroupForm(initial=typed, instance=group, organization=request.organization)


def _live(request: OrganizationRequest, form: UpdateGroupForm) -> dict[str, Any]:
    """The parts of the group form that follow its other inputs: fields and preview."""
    group = form.instance
    context: dict[str, Any] = {
        "fields_field": form["fields"],
        "triggers_field": form["trigger_fields"],
        "kind": form.kind,
        "live_url": reverse(
            "monitoring:group_edit_preview" if group.pk else "monitoring:group_create_preview",
            args=[request.organization.slug, group.uuid]
            if group.pk
            else [request.organization.slug],
        ),
    }
    typed = form.data if form.is_bound else form.initial
    # A rolling or tiered group asks each client on their own day: no dates to list.
    context["per_profile"] = (typed.get("cadence") or group.cadence) in PER_PROFILE
    raw_start = typed.get("start_date")
    start = form.instance.start_date if raw_start is None else None
    if isinstance(raw_start, dt.date):
        start = raw_start
    elif raw_start:
        with suppress(ValueError):
            start = dt.date.fromisoformat(raw_start)
    interval = form.interval()
    refusal = form.start_refusal(start, *interval) if start and interval else None
    conditions, errors = form.typed_audience()
    days = form.typed_spread()
    spread_refusal = services.spread_refusal(days, *interval) if interval else None
    if refusal:
        context["refusal"] = refusal[1]
    elif errors:
        context["refusal"] = _("Correct the conditions of the audience to see whom it asks.")
    elif spread_refusal:
        context["refusal"] = spread_refusal
    elif start and interval:
        context["preview"] = preview(
            request.organization,
            start=start,
            count=interval[0],
            unit=interval[1],
            kind=form.kind,
            conditions=conditions,
            spread_days=days,
        )
    return context


@admin_required
@require_GET
def group_preview(
    request: OrganizationRequest, org_slug: str, group_uuid: Any = None
) -> HttpResponse:
    """The group form's fields of the chosen type and its next dates, as the admin types."""
    group = get_for_org(request, UpdateGroup, uuid=group_uuid) if group_uuid else None
    form = _typed_form(request, request.GET, group)
    return render(
        request,
        "monitoring/group_live.html",
        {**_live(request, form), "form": form, "group": group},
    )


@admin_required
def group_detail(request: OrganizationRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    group = get_for_org(request, _groups(request), uuid=group_uuid)
    runs = list(group.runs.all()[:10])
    counts = followup.outcomes(group, [run.period for run in runs])
    undeliverable = followup.undeliverable(group, [run.period for run in runs])
    for run in runs:
        run.outcomes = counts[run.period]
        run.undeliverable = undeliverable.get(run.period, 0)
    today = timezone.now().astimezone(request.organization.tzinfo).date()
    load = workload.group_load(group, today)
    fields = audience_fields(request.organization, group.applies_to) if group.audience else []
    due_now, due_days = (
        rolling.upcoming_days(group, timezone.now()) if group.cadence in PER_PROFILE else (0, [])
    )
    return render(
        request,
        "monitoring/group_detail.html",
        {
            "group": group,
            "conditions": [describe(condition, fields) for condition in group.audience],
            "chart": workload.chart(load),
            "horizon": workload.HORIZON_DAYS,
            "runs": runs,
            "per_profile": group.cadence in PER_PROFILE,
            "due_now": due_now,
            "due_days": due_days,
            "monitoring": True,
            "send_hour": schedule.RUN_TIME,
            "time_zone": request.organization.time_zone,
            "trigger_fields": list(group.trigger_fields.order_by("position", "id")),
            "backlog": triggers.backlog(group),
        },
    )


def _run(
    request: OrganizationRequest, group_uuid: Any, period: str
) -> tuple[UpdateGroup, UpdateRun]:
    try:
        day = dt.date.fromisoformat(period)
    except ValueError:
        raise Http404 from None
    # The run with its group in one query: the run's organisation is its group's.
    run: UpdateRun = get_for_org(
        request, UpdateRun.objects.select_related("group"), group__uuid=group_uuid, period=day
    )
    return run.group, run


def _followup_labels() -> dict[str, Any]:
    """The statuses as a run's follow-up names them: beside the tile of requests sent, a
    dossier sent and never opened says so, rather than "Sent" a second time."""
    return {
        **dict(Dossier.Status.choices),
        Dossier.Status.OPEN: pgettext_lazy("dossier status", "Sent, not opened"),
    }


def run_detail(
    request: OrganizationRequest, org_slug: str, group_uuid: Any, period: str
) -> HttpResponse:
    """A run's follow-up: its counts, and who has not answered, with filters and search."""
    group, run = _run(request, group_uuid, period)
    status = request.GET.get("status", "")
    query = search_query(request)
    counts = followup.run_outcomes(group, run.period)
    rows = followup.OutstandingPages(group, run.period, counts, status=status, query=query)
    # Django's paginator asks only for count() and slices, which the pages answer in one query.
    page = Paginator(cast(Any, rows), 50).get_page(request.GET.get("page"))
    # Each row's status as people read it, looked up once here rather than in the template.
    labels = _followup_labels()
    page.object_list = [(*row[:4], labels.get(row[4], row[4]), *row[5:]) for row in page]
    # Those e-mail cannot reach, of the run and of the page: not "not answered" but never asked.
    unreachable, unreached = followup.unreachable_with(
        group, run.period, [row[6] for row in page.object_list]
    )
    return render(
        request,
        "monitoring/run_detail.html",
        {
            **_progress(group, run),
            "group": group,
            "run": run,
            "outcomes": counts,
            "outcome_rows": [(value, labels[value], n) for value, _label, n in counts.rows()],
            "undeliverable": followup.undeliverable(group, [run.period]).get(run.period, 0),
            "unreachable": unreachable,
            "unreached": unreached,
            "page": page,
            "rows_html": outstanding_html(org_slug, page.object_list, unreached),
            "statuses": [(s.value, labels[s.value]) for s in followup.OUTSTANDING],
            "status": status,
            "query": query,
        },
    )


def _progress(group: UpdateGroup, run: UpdateRun) -> dict[str, Any]:
    """The long actions of a run still going: its dossiers being opened and sent, this
    hour's reminders in the outbox. Read from the rows, so a reload shows the same."""
    opening = None if run.finished_at else followup.opening_progress(run)
    reminders = followup.reminder_progress(run)
    return {
        "opening": opening,
        "reminders": reminders,
        "polling": opening is not None or (reminders is not None and not reminders.settled),
    }


@require_GET
def run_progress(
    request: PopupRequest, org_slug: str, group_uuid: Any, period: str
) -> HttpResponse:
    """The progress bars of a run, polled by its page; once nothing moves any more, the page
    reloads itself to show the result."""
    group, run = _run(request, group_uuid, period)
    context = _progress(group, run)
    response = render(
        request, "monitoring/run_progress.html", {**context, "group": group, "run": run}
    )
    if request.htmx and not context["polling"]:
        response["HX-Refresh"] = "true"
    return response


@require_http_methods(["GET", "POST"])
def run_remind(
    request: OrganizationRequest, org_slug: str, group_uuid: Any, period: str
) -> HttpResponse:
    """ "Remind all outstanding": says how many will be reminded and why the others will
    not, then one reminder to each of them."""
    group, run = _run(request, group_uuid, period)
    if request.method == "POST":
        reminded = actions.remind_run(run, actor=Actor.member(request.user))
        if reminded.fresh:
            messages.success(
                request,
                ngettext(
                    "A reminder is on its way to %(n)s client who has not answered.",
                    "A reminder is on its way to each of the %(n)s clients who have not answered.",
                    reminded.fresh,
                )
                % {"n": reminded.fresh},
            )
        if reminded.already:
            messages.info(request, _already_reminded(reminded.already, reminded.again_at))
        if reminded.unreachable:
            messages.warning(
                request,
                ngettext(
                    "%(n)s of them cannot be reached: their address bounces or reported us as "
                    "spam, and nothing is sent to it. Their dossier shows what to do.",
                    "%(n)s of them cannot be reached: their addresses bounce or reported us as "
                    "spam, and nothing is sent to them. Their dossiers show what to do.",
                    reminded.unreachable,
                )
                % {"n": reminded.unreachable},
            )
        return redirect(
            "monitoring:run_detail", org_slug=org_slug, group_uuid=group.uuid, period=period
        )
    plan = actions.plan_reminders(run)
    return render(
        request,
        "monitoring/run_remind.html",
        {
            "group": group,
            "run": run,
            "plan": plan,
            "already_said": _already_reminded(plan.already, plan.again_at) if plan.already else "",
        },
    )


def _already_reminded(count: int, again_at: dt.datetime | None) -> str:
    return ngettext(
        "%(n)s client was already reminded within this hour: nothing is sent to them again "
        "before %(time)s.",
        "%(n)s clients were already reminded within this hour: nothing is sent to them again "
        "before %(time)s.",
        count,
    ) % {"n": count, "time": display.moment(again_at)}


def _csv_delimiter(organization: Any) -> str:
    """French spreadsheets split on semicolons (the comma is their decimal mark): a French
    organisation's exports use them."""
    return ";" if organization.default_language == "fr" else ","


def run_export(request: OrganizationRequest, org_slug: str, group_uuid: Any, period: str) -> Any:
    """The outstanding list of a run as CSV, streamed: flat memory whatever its length."""
    group, run = _run(request, group_uuid, period)
    rows = actions.export_run(
        run,
        actor=Actor.member(request.user),
        status=request.GET.get("status", ""),
        query=search_query(request),
    )
    # Resolved now, in the reader's language: the rows are written after the view returns.
    labels = {value: str(label) for value, label in _followup_labels().items()}
    header = [
        _("Last name"),
        _("First name"),
        _("Company"),
        _("E-mail"),
        _("Status"),
        _("First opened"),
        "ID",
    ]
    body = (
        [
            last,
            first,
            company,
            email,
            labels.get(state, state),
            opened_at.isoformat() if opened_at else "",
            ref,
        ]
        for last, first, company, _uuid, state, opened_at, ref, email in rows.iterator()
    )
    lines = csv_lines(
        itertools.chain([header], body), delimiter=_csv_delimiter(request.organization)
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    name = f"{group.title}-{run.period:%Y-%m-%d}-outstanding.csv"
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


def _recipients(request: OrganizationRequest, group: UpdateGroup, *, out: bool = False) -> Any:
    profiles = outside_audience(group) if out else group_audience(group)
    return profiles.order_by("last_name", "first_name", "name", "id")


@admin_required
@require_http_methods(["GET", "POST"])
def group_send_now(request: OrganizationRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    """Sends the current period now, after saying how many will receive it."""
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    if group.cadence in PER_PROFILE:
        # Each profile has its own day: there is no group period to send.
        return redirect("monitoring:group_detail", org_slug=org_slug, group_uuid=group.uuid)
    today = timezone.localdate(timezone=request.organization.tzinfo)
    period = group.occurrence(
        current_index(
            group.start_date, group.interval_count, group.interval_unit, today, group.next_index
        )
    )
    existing = UpdateRun.objects.filter(group=group, period=period).first()
    sent = (
        actions.send_now(group, actor=Actor.member(request.user))
        if request.method == "POST" and group.is_active
        else None
    )
    if sent is not None:
        messages.success(
            request,
            _("The dossiers of the period of %(date)s are being opened and sent.")
            % {"date": display.day(sent.period)},
        )
        return redirect(
            "monitoring:run_detail",
            org_slug=org_slug,
            group_uuid=group.uuid,
            period=sent.period.isoformat(),
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
def group_recipients(request: OrganizationRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    """Who receives the group's dossiers (its audience), or who its audience leaves out."""
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    out = request.GET.get("show") == "out"
    page = Paginator(_recipients(request, group, out=out), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "monitoring/recipients.html",
        {"group": group, "page": page, "out": out, "monitoring": True},
    )


@admin_required
@require_POST
def group_toggle(request: OrganizationRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    actions.set_group_active(group, actor=Actor.member(request.user), active=not group.is_active)
    if group.is_active:
        messages.success(request, _("The group was resumed."))
    else:
        messages.success(request, _("The group was paused: no dossier opens until it resumes."))
    return redirect("monitoring:group_detail", org_slug=org_slug, group_uuid=group.uuid)


@admin_required
@require_POST
def group_delete(request: OrganizationRequest, org_slug: str, group_uuid: Any) -> HttpResponse:
    group = get_for_org(request, UpdateGroup, uuid=group_uuid)
    title = actions.delete_group(group, actor=Actor.member(request.user))
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
    request: PopupRequest, org_slug: str, profile_uuid: Any, field_uuid: Any
) -> HttpResponse:
    """The "⋯" of a filled field: its expiry date, its next update date and its frequency."""
    profile = get_for_org(request, Profile, uuid=profile_uuid)
    field: DataField = get_for_org(
        request, DataField.objects.select_related("group_membership__group__due"), uuid=field_uuid
    )
    value = (
        FieldValue.objects.filter(profile=profile, field=field)
        .select_related("organization", "profile", "field")
        .first()
    )
    profile_url = reverse("profiles:detail", args=[org_slug, profile.uuid])
    group = group_of(field)
    context: dict[str, Any] = {
        "profile": profile,
        "field": field,
        "group": group,
        "value": value,
        # A rolling or tiered group: the profile's own next update, and why.
        "own": rolling.next_update(group, profile.pk)
        if group is not None and group.cadence in PER_PROFILE
        else None,
    }
    template = "monitoring/popup.html" if request.htmx else "monitoring/popup_page.html"
    if value is None or value.value is None:
        context["empty"] = True
        return render(request, template, context, status=400 if request.method == "POST" else 404)
    form = ExpiryForm(
        request.POST or None, initial={"expires_on": value.expires_on}, kept=value.expires_on
    )
    if request.method == "POST":
        actor = Actor.member(request.user)
        change = None
        if request.POST.get("action") == "clear":
            change = actions.clear_expiry(value, actor=actor)
        elif form.is_valid():
            try:
                change = actions.set_expiry(
                    value, actor=actor, expires_on=form.cleaned_data["expires_on"]
                )
            except ValidationError as error:
                form.add_error(None, error)
        if change is None:
            context["form"] = form
            return render(request, template, context, status=422 if request.htmx else 200)
        if not change.changed:
            messages.info(request, _("Nothing changed."))
            return _back_to_profile(request, profile_url)
        messages.success(
            request,
            (
                _("The expiry date of “%(label)s” was saved.")
                if change.after
                else _("The expiry date of “%(label)s” was cleared.")
            )
            % {"label": field.local_label},
        )
        return _back_to_profile(request, profile_url)
    context["form"] = form
    return render(request, template, context)


def _back_to_profile(request: PopupRequest, profile_url: str) -> HttpResponse:
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = profile_url
        return response
    return redirect(profile_url)


OVERVIEW_PAGE = 50


def _overview_filters(request: OrganizationRequest) -> tuple[overview.Filters, dict[str, Any]]:
    """The overview's filters from the query string; unknown values are ignored."""
    groups = list(UpdateGroup.objects.filter(organization=request.organization))
    group = next((g for g in groups if str(g.uuid) == request.GET.get("group")), None)
    company = _by_uuid(request, Profile.objects.filter(kind=Kind.COMPANY), "company")
    profile = _by_uuid(request, Profile.objects.all(), "profile")
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    filters = overview.Filters(
        group_id=group.pk if group else None,
        status=status if status in overview.STATUSES else "",
        company_id=company.pk if company else None,
        kind=kind if kind in Kind.values else "",
        query=search_query(request),
        profile_ids=(profile.pk,) if profile else (),
    )
    shown = {
        "groups": groups,
        "group": group,
        "company": company,
        "profile": profile,
        "kind": filters.kind,
        "status": filters.status,
        "query": filters.query,
    }
    return filters, shown


def _by_uuid(request: OrganizationRequest, queryset: Any, name: str) -> Any:
    try:
        return get_for_org(request, queryset, uuid=request.GET[name])
    except (KeyError, Http404):
        return None


def _field_labels(request: OrganizationRequest) -> dict[int, str]:
    """Monitored fields' labels in the reader's language (the SQL knows only the default)."""
    return {
        field.pk: field.local_label
        for field in DataField.objects.filter(
            organization=request.organization, group_membership__isnull=False
        )
    }


def _group_titles(
    request: OrganizationRequest, groups: list[UpdateGroup] | None = None
) -> dict[str, str]:
    """Groups' titles in the reader's language, by the title the SQL knows (of `groups`
    when the caller read them already)."""
    if groups is None:
        groups = list(UpdateGroup.objects.filter(organization=request.organization))
    return {group.title: group.local_title for group in groups}


def compliance_overview(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    """Every profile by monitored field with its status, counts on top, filters, export;
    as a list of (profile, field) rows, or (`?view=matrix`) as profiles by fields."""
    filters, shown = _overview_filters(request)
    today = timezone.localdate()
    org_id = request.organization.pk
    version = overview.of_request(request)
    counts = overview.counts(
        org_id, filters, today, version=None if version is overview.UNREAD else version
    )
    kept = request.GET.copy()
    for name in ("page", "view"):
        kept.pop(name, None)
    shown["list_query"] = kept.urlencode()
    kept["view"] = "matrix"
    shown["matrix_query"] = kept.urlencode()
    shown["matrix"] = request.GET.get("view") == "matrix"
    if shown["matrix"]:
        return _matrix(request, filters, shown, counts, today)
    paginator = Paginator(cast(Any, _Cells(org_id, filters, today, counts)), OVERVIEW_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    labels, titles = _field_labels(request), _group_titles(request, shown["groups"])
    # Each status's label and badge once for the page, not looked up in the template per row.
    badges = {value: (str(label), STATUS_BADGES[value]) for value, label in STATUS_LABELS}
    for cell in page:
        cell["field_label"] = labels.get(cell["field_id"], cell["field_label"])
        cell["group_title"] = titles.get(cell["group_title"], cell["group_title"])
        cell["status_label"], cell["badge"] = badges.get(cell["status"], ("", ""))
    return render(
        request,
        "monitoring/overview.html",
        {
            **shown,
            "page": page,
            "rows_html": overview_html(org_slug, page),
            "counts": counts,
            "statuses": STATUS_LABELS,
            "kinds": Kind.choices,
            "companies": Profile.objects.active()
            .filter(organization=request.organization, kind=Kind.COMPANY)
            .order_by("name")[:500],
        },
    )


OVERVIEW_MATRIX_PAGE = 25
MATRIX_MARKS = {
    "valid": "✓",
    "expiring": "!",
    "requested": "…",
    "overdue": "‼",
    "expired": "✕",
    "missing": "○",
}


def _matrix(
    request: OrganizationRequest,
    filters: overview.Filters,
    shown: dict[str, Any],
    counts: dict[str, int],
    today: dt.date,
) -> HttpResponse:
    """Profiles down, monitored fields across, one cell each: a fixed number of queries
    whatever the page size (the columns and their groups' titles are read once)."""
    org_id = request.organization.pk
    fields = (
        DataField.objects.filter(organization=request.organization, group_membership__isnull=False)
        .active()
        .select_related("group_membership__group")
        .order_by("-applies_to", "group_membership__group__title", "position", "id")
    )
    if filters.group_id:
        fields = fields.filter(group_membership__group_id=filters.group_id)
    if filters.kind:
        fields = fields.filter(applies_to=filters.kind)
    columns = list(fields)
    paginator = Paginator(cast(Any, _Profiles(org_id, filters, today)), OVERVIEW_MATRIX_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    ids = tuple(row["profile_id"] for row in page)
    found: dict[tuple[int, int], dict[str, Any]] = {}
    if ids and columns:
        every = overview.Filters(group_id=filters.group_id, kind=filters.kind, profile_ids=ids)
        for cell in overview.page(org_id, every, today, offset=0, limit=len(ids) * len(columns)):
            found[(cell["profile_id"], cell["field_id"])] = cell
    labels = dict(STATUS_LABELS)
    rows = [
        {
            **profile,
            "cells": [
                _matrix_cell(found.get((profile["profile_id"], field.pk)), labels)
                for field in columns
            ],
        }
        for profile in page
    ]
    groups: list[dict[str, Any]] = []
    for field in columns:
        group = field.group_membership.group
        if groups and groups[-1]["group"] == group:
            groups[-1]["span"] += 1
        else:
            groups.append({"group": group, "title": group.local_title, "span": 1})
    return render(
        request,
        "monitoring/overview_matrix.html",
        {
            **shown,
            "page": page,
            "rows": rows,
            "columns": columns,
            "column_groups": groups,
            "counts": counts,
            "statuses": STATUS_LABELS,
            "legend": [(value, MATRIX_MARKS[value], label) for value, label in STATUS_LABELS],
            "kinds": Kind.choices,
            "companies": Profile.objects.active()
            .filter(organization=request.organization, kind=Kind.COMPANY)
            .order_by("name")[:500],
        },
    )


def _matrix_cell(cell: dict[str, Any] | None, labels: dict[str, Any]) -> dict[str, Any] | None:
    if cell is None:
        return None
    return {
        **cell,
        "mark": MATRIX_MARKS[cell["status"]],
        "label": labels[cell["status"]],
        "dossier": cell["open_dossier"] or cell["overdue_dossier"],
    }


class _Profiles:
    """The matrix's rows as the paginator wants them: one query to count, one a slice."""

    def __init__(self, organization_id: int, filters: overview.Filters, today: dt.date) -> None:
        self.args = (organization_id, filters, today)

    def count(self) -> int:
        return overview.profiles_total(*self.args)

    def __getitem__(self, bounds: slice) -> list[dict[str, Any]]:
        start, stop = bounds.start or 0, bounds.stop or 0
        return overview.profiles_page(*self.args, offset=start, limit=max(stop - start, 0))


class _Cells:
    """The overview's rows as the paginator wants them: the count from the counts by status
    the page shows anyway, and each slice one query."""

    def __init__(
        self,
        organization_id: int,
        filters: overview.Filters,
        today: dt.date,
        counts: dict[str, int],
    ) -> None:
        self.args = (organization_id, filters, today)
        self.counts = counts

    def count(self) -> int:
        if self.args[1].status:
            return self.counts[self.args[1].status]
        return sum(self.counts.values())

    def __getitem__(self, bounds: slice) -> list[dict[str, Any]]:
        start, stop = bounds.start or 0, bounds.stop or 0
        return overview.page(*self.args, offset=start, limit=max(stop - start, 0))


def compliance_export(request: OrganizationRequest, org_slug: str) -> Any:
    """The whole filtered overview as CSV, streamed as it is read (`overview.export_csv`)."""
    filters, _shown = _overview_filters(request)
    # Resolved now, in the reader's language: the rows are written after the view returns.
    words = overview.ExportWords(
        header=[_("Name"), _("Type"), _("Field"), _("Update group"), _("Status"), _("Expiry date")],
        kinds={value: str(label) for value, label in Kind.choices},
        fields=_field_labels(request),
        titles=_group_titles(request),
        statuses={value: str(label) for value, label in STATUS_LABELS},
    )
    lines = actions.export_overview(
        request.organization,
        actor=Actor.member(request.user),
        filters=filters,
        today=timezone.localdate(),
        described=request.GET.urlencode(),
        words=words,
    )
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="compliance-overview.csv"'
    return response


STATUS_LABELS = [
    ("valid", gettext_lazy("Valid")),
    ("expiring", gettext_lazy("Expiring within 30 days")),
    ("requested", gettext_lazy("Update requested")),
    ("overdue", gettext_lazy("Overdue")),
    ("expired", gettext_lazy("Expired")),
    ("missing", gettext_lazy("Missing")),
]
# The badge's class of each status in the overview's list.
STATUS_BADGES = {
    "valid": "ok",
    "expiring": "warn",
    "requested": "warn",
    "overdue": "bad",
    "expired": "bad",
    "missing": "bad",
}
