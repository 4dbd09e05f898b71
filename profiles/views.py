from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import BaseForm
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST

from organizations.actors import Actor
from organizations.decorators import admin_required
from organizations.http import OrganizationRequest
from organizations.keyset import keyset_page
from organizations.lookups import get_for_org, search_query
from outbox import selectors as outbox_selectors
from profiles import actions, attention, bulk, fieldtypes, sorting, value_rows
from profiles.downloads import INLINE_TYPES as INLINE_TYPES
from profiles.downloads import serve_document as serve_document
from profiles.downloads import serve_file as serve_file
from profiles.filters import DataFieldFilterSet, ProfileFilterSet
from profiles.forms import DataFieldForm, ValuesForm, profile_form_class
from profiles.models import (
    DataField,
    Document,
    FieldValue,
    FieldValueHistory,
    Kind,
    Profile,
    url_kind_of,
)
from profiles.services import StorageUnavailable
from profiles.signals import dossier_names, history_notes

PAGE_SIZE = 25
KIND_OF_URL = {"contacts": Kind.CONTACT, "companies": Kind.COMPANY}
# The lists' sortable columns: each key's order ends with a unique column.
SORTS: dict[str, dict[str, tuple[str, ...]]] = {
    Kind.CONTACT: {
        "name": ("last_name", "first_name", "id"),
        "email": ("email", "id"),
        "company": ("company__name", "last_name", "id"),
        "created": ("created_at", "id"),
    },
    Kind.COMPANY: {
        "name": ("name", "id"),
        "number": ("registration_number", "id"),
        "created": ("created_at", "id"),
    },
}


def _kind(url_kind: str) -> str:
    try:
        return KIND_OF_URL[url_kind]
    except KeyError:
        raise Http404 from None


def _get_profile(request: OrganizationRequest, profile_uuid: Any) -> Profile:
    return get_for_org(request, Profile.objects.select_related("company"), uuid=profile_uuid)


def _member(request: OrganizationRequest) -> Actor:
    return Actor.member(request.user)


def add_errors(form: BaseForm, error: ValidationError, names: dict[str, str] | None = None) -> None:
    """An action's refusal on the form's fields (`names` maps the action's names to the
    form's where they differ), or above the form for a name the form has no field for."""
    for name, messages_ in error.message_dict.items():
        name = (names or {}).get(name, name)
        form.add_error(name if name in form.fields else None, messages_)


def today(request: OrganizationRequest) -> Any:
    return timezone.localdate(timezone=request.organization.tzinfo)


def _sort_labels(kind: str) -> list[tuple[str, str]]:
    if kind == Kind.CONTACT:
        return [("name", _("Name")), ("email", _("E-mail")), ("company", _("Company"))]
    return [("name", _("Name")), ("number", _("Registration number"))]


def profile_list(request: OrganizationRequest, org_slug: str, url_kind: str) -> HttpResponse:
    kind = _kind(url_kind)
    filters = ProfileFilterSet(
        request.GET,
        queryset=Profile.objects.filter(organization=request.organization).of_kind(kind),
    )
    sort = sorting.chosen(request.GET.get("sort"), SORTS[kind], "name")
    profiles = filters.qs.order_by(*sort.order_by)
    if kind == Kind.CONTACT:
        profiles = profiles.select_related("company")
    needs_attention = request.GET.get("attention") == "1"
    if needs_attention:
        profiles = attention.needing_attention(
            profiles, request.organization.pk, kind, today(request)
        )
    page = Paginator(profiles, PAGE_SIZE).get_page(request.GET.get("page"))
    representatives = request.GET.get("representatives") == "1"
    return render(
        request,
        "profiles/list.html",
        {
            "kind": kind,
            "url_kind": url_kind,
            "page": page,
            "query": search_query(request),
            "status": filters.data["status"],
            "representatives": representatives,
            "needs_attention": needs_attention,
            "filtered": bool(
                search_query(request)
                or filters.data["status"] != "active"
                or representatives
                or needs_attention
            ),
            "sort": sort,
            "headers": sorting.headers(request.GET, _sort_labels(kind), sort),
            "flagged": attention.flagged(
                request.organization.pk, kind, today(request), [p.pk for p in page]
            ),
        },
    )


@require_http_methods(["GET", "POST"])
def bulk_archive(request: OrganizationRequest, org_slug: str, url_kind: str) -> HttpResponse:
    """Archive the ticked profiles: a page says how many and who, then each goes through
    `archive_profile` (one audit entry each); those already archived stay as they are."""
    kind = _kind(url_kind)
    list_url = reverse("profiles:list", args=[org_slug, url_kind])
    data = request.POST if request.method == "POST" else request.GET
    try:
        profiles = bulk.selected(
            data.getlist("profile"),
            Profile.objects.filter(organization=request.organization).of_kind(kind),
            SORTS[kind]["name"],
        )
    except bulk.Refused as refusal:
        messages.error(request, refusal.message)
        return redirect(list_url)
    to_archive = [p for p in profiles if not p.is_archived]
    if request.method == "POST" and data.get("confirm") == "yes":
        actor = _member(request)
        for profile in to_archive:
            actions.archive_profile(profile, actor=actor)
        messages.success(
            request,
            ngettext(
                "%(n)d profile was archived.", "%(n)d profiles were archived.", len(to_archive)
            )
            % {"n": len(to_archive)},
        )
        return redirect(list_url)
    return render(
        request,
        "profiles/bulk_archive.html",
        {
            "kind": kind,
            "url_kind": url_kind,
            "profiles": profiles,
            "to_archive": to_archive,
            "already": len(profiles) - len(to_archive),
            "list_url": list_url,
        },
    )


@require_http_methods(["GET", "POST"])
def profile_create(request: OrganizationRequest, org_slug: str, url_kind: str) -> HttpResponse:
    kind = _kind(url_kind)
    form = profile_form_class(kind)(request.POST or None, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        try:
            profile = actions.create_profile(
                organization=request.organization,
                actor=_member(request),
                kind=kind,
                identity=_identity(form),
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("%(name)s was created.") % {"name": profile.display_name})
            return redirect("profiles:detail", org_slug=org_slug, profile_uuid=profile.uuid)
    return render(request, "profiles/form.html", {"form": form, "kind": kind, "url_kind": url_kind})


@require_http_methods(["GET", "POST"])
def profile_edit(request: OrganizationRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = _get_profile(request, profile_uuid)
    form = profile_form_class(profile.kind)(
        request.POST or None, instance=profile, organization=request.organization
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_profile(profile, actor=_member(request), identity=_identity(form))
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, _("%(name)s was saved.") % {"name": profile.display_name})
            return redirect("profiles:detail", org_slug=org_slug, profile_uuid=profile.uuid)
    return render(
        request,
        "profiles/form.html",
        {"form": form, "profile": profile, "kind": profile.kind, "url_kind": profile.url_kind},
    )


def _identity(form: BaseForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in form.fields if name in form.cleaned_data}


@require_POST
def profile_archive(request: OrganizationRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = _get_profile(request, profile_uuid)
    # One button, which says what it does: restore an archived profile, archive another.
    if profile.is_archived:
        actions.restore_profile(profile, actor=_member(request))
        messages.success(request, _("%(name)s was restored.") % {"name": profile.display_name})
    else:
        actions.archive_profile(profile, actor=_member(request))
        messages.success(request, _("%(name)s was archived.") % {"name": profile.display_name})
    return redirect("profiles:detail", org_slug=org_slug, profile_uuid=profile.uuid)


def _fields_and_values(profile: Profile) -> tuple[list[DataField], dict[int, FieldValue]]:
    fields = list(
        DataField.objects.active().filter(
            organization_id=profile.organization_id,
            applies_to=profile.kind,
        )
    )
    values = {
        value.field_id: value
        for value in FieldValue.objects.filter(profile=profile).select_related("document")
    }
    return fields, values


def _shown_fields_and_values(
    profile: Profile,
) -> tuple[list[value_rows.ShownField], dict[int, value_rows.ShownValue]]:
    """The profile page's fields and values, read as tuples of the columns its rows show:
    a hundred model instances of each were the page's costliest reads."""
    fields = [
        value_rows.ShownField(*row)
        for row in DataField.objects.active()
        .filter(organization_id=profile.organization_id, applies_to=profile.kind)
        .values_list(*value_rows.ShownField.COLUMNS)
    ]
    values = dict(
        value_rows.ShownValue.of(row)
        for row in FieldValue.objects.filter(profile=profile).values_list(
            *value_rows.ShownValue.COLUMNS
        )
    )
    return fields, values


def profile_detail(request: OrganizationRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    # The notes' probes and whether the person's address fails are read with the profile:
    # a profile with nothing to say beside its fields costs no further query for them.
    profile = get_for_org(
        request,
        attention.with_note_probes(Profile.objects.select_related("company")).annotate(
            address_fails=outbox_selectors.address_fails()
        ),
        uuid=profile_uuid,
    )
    # The page's organisation, which the notes' sources read: not read again.
    profile.organization = request.organization
    fields, values = _shown_fields_and_values(profile)
    notes = attention.field_notes(profile)
    sections = value_rows.sections_html(
        fields, values, notes, value_rows.page_of(org_slug, profile.uuid), today(request)
    )
    representatives = (
        list(Profile.objects.active().filter(company=profile).order_by("last_name"))
        if profile.kind == Kind.COMPANY
        else []
    )
    # Addresses the e-mail service reported as failing: the person's, or a representative's.
    failing = (
        outbox_selectors.failing_addresses(
            request.organization.pk, [profile.email, *(c.email for c in representatives)]
        )
        if profile.address_fails or representatives  # type: ignore[attr-defined]
        else {}
    )
    return render(
        request,
        "profiles/detail.html",
        {
            "profile": profile,
            "sections": sections,
            "representatives": representatives,
            "failing_addresses": list(failing.values()),
        },
    )


@require_http_methods(["GET", "POST"])
def values_edit(request: OrganizationRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = _get_profile(request, profile_uuid)
    fields, values = _fields_and_values(profile)
    form = ValuesForm(request.POST or None, request.FILES or None, fields=fields, values=values)
    if request.method == "POST" and form.is_valid():
        try:
            rows = actions.set_values(
                profile,
                actor=_member(request),
                values=form.changed_values(),
                removals=form.removals,
            )
        except StorageUnavailable:
            form.add_error(
                None, _("The files could not be stored just now. Nothing was saved: try again.")
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            if rows:
                messages.success(request, _("The values were saved."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("profiles:detail", org_slug=org_slug, profile_uuid=profile.uuid)
    return render(request, "profiles/values_form.html", {"profile": profile, "form": form})


def value_history(request: OrganizationRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = _get_profile(request, profile_uuid)
    history = (
        FieldValueHistory.objects.filter(profile=profile)
        .select_related(
            "field",
            "user",
            "recipient",
            "approved_by",
            "old_document",
            "new_document",
        )
        .order_by("-changed_at", "-id")
    )
    field = None
    if request.GET.get("field"):
        try:
            field = get_for_org(request, DataField, uuid=request.GET["field"])
        except Http404:
            field = None
        else:
            history = history.filter(field=field)
    # Keyset pages (organizations.keyset): a profile's years of history read one page.
    page = keyset_page(history, request.GET, moment="changed_at")
    for row in page:
        # Read by the template only: the values as this reader's language writes them.
        row.old_display = fieldtypes.display(row.field, row.old_value)  # type: ignore[attr-defined]
        row.new_display = fieldtypes.display(row.field, row.new_value)  # type: ignore[attr-defined]
        row.restorable = actions.restorable(row)  # type: ignore[attr-defined]
    dossiers = {row.dossier_uuid for row in page if row.dossier_uuid}
    names: dict[Any, str] = {}
    for _receiver, answer in dossier_names.send(
        sender=Profile, organization=request.organization, uuids=dossiers
    ):
        names.update(answer or {})  # type: ignore[arg-type]
    for row in page:
        if row.dossier_uuid:
            # The dossier may be gone with no record kept (an erasure): then it is just "dossier".
            row.dossier_name = names.get(row.dossier_uuid) or _("dossier")  # type: ignore[attr-defined]
    notes: dict[int, str] = {}
    for _receiver, answer in history_notes.send(
        sender=Profile, organization=request.organization, profile=profile, rows=page.rows
    ):
        notes.update(answer or {})  # type: ignore[arg-type]
    for row in page:
        row.note = notes.get(row.pk, "")  # type: ignore[attr-defined]
    return render(
        request,
        "profiles/history.html",
        {"profile": profile, "page": page, "field": field},
    )


@require_http_methods(["GET", "POST"])
def value_restore(
    request: OrganizationRequest, org_slug: str, profile_uuid: Any, row_id: int
) -> HttpResponse:
    """Puts back the value a change replaced, after a confirmation; recorded in the history
    as a staff change like any other, and audited."""
    profile = _get_profile(request, profile_uuid)
    row: FieldValueHistory = get_for_org(
        request,
        FieldValueHistory.objects.filter(profile=profile).select_related("field", "old_document"),
        pk=row_id,
    )
    if not actions.restorable(row):
        raise Http404
    row.profile = profile
    field = row.field
    history_url = f"{reverse('profiles:history', args=[org_slug, profile.uuid])}?field={field.uuid}"
    refusal = actions.restore_refusal(row)
    if request.method == "POST" and refusal is None:
        try:
            rows = actions.restore_value(row, actor=_member(request))
        except ValidationError as error:
            refusal = " ".join(error.messages)
        else:
            if not rows:
                messages.info(request, _("Nothing changed."))
            else:
                messages.success(
                    request,
                    _("The earlier value of “%(label)s” was restored.")
                    % {"label": field.local_label},
                )
            return redirect(history_url)
    current = (
        FieldValue.objects.filter(profile=profile, field=field).select_related("document").first()
    )
    return render(
        request,
        "profiles/restore.html",
        {
            "profile": profile,
            "row": row,
            "field": field,
            "current": actions.shown(field, current.value, current.document) if current else "",
            "restored": actions.shown(field, row.old_value, row.old_document),
            "unchanged": current is not None
            and current.value == row.old_value
            and current.document_id == row.old_document_id,
            "refusal": refusal,
            "history_url": history_url,
        },
        status=422 if refusal and request.method == "POST" else 200,
    )


def document_download(
    request: OrganizationRequest, org_slug: str, document_uuid: Any
) -> FileResponse:
    document: Document = get_for_org(
        request, Document.objects.select_related("profile"), uuid=document_uuid
    )
    return actions.download_document(
        document, actor=_member(request), inline=request.GET.get("inline") == "1"
    )


# Settings > Data fields


@admin_required
def field_list(request: OrganizationRequest, org_slug: str, url_kind: str) -> HttpResponse:
    kind = _kind(url_kind)
    filters = DataFieldFilterSet(
        request.GET,
        queryset=DataField.objects.filter(organization=request.organization).of_kind(kind),
    )
    fields = filters.qs
    show_archived = filters.form.cleaned_data.get("archived") is True
    return render(
        request,
        "profiles/fields/list.html",
        {
            "fields": list(fields),
            "kind": kind,
            "url_kind": url_kind,
            "show_archived": show_archived,
        },
    )


# The action names a field's list of choices by the model's name, the form by its own.
FIELD_FORM_NAMES = {"choices": "choices_text"}


@admin_required
@require_http_methods(["GET", "POST"])
def field_create(request: OrganizationRequest, org_slug: str, url_kind: str) -> HttpResponse:
    kind = _kind(url_kind)
    form = DataFieldForm(request.POST or None, organization=request.organization, applies_to=kind)
    if request.method == "POST" and form.is_valid():
        try:
            field = actions.create_field(form.save(commit=False), actor=_member(request))
        except ValidationError as error:
            add_errors(form, error, FIELD_FORM_NAMES)
        else:
            messages.success(
                request, _("The field “%(label)s” was created.") % {"label": field.local_label}
            )
            return redirect("profiles:field_list", org_slug=org_slug, url_kind=url_kind)
    return render(
        request, "profiles/fields/form.html", {"form": form, "kind": kind, "url_kind": url_kind}
    )


@admin_required
@require_http_methods(["GET", "POST"])
def field_edit(request: OrganizationRequest, org_slug: str, field_uuid: Any) -> HttpResponse:
    field = get_for_org(request, DataField, uuid=field_uuid)
    form = DataFieldForm(
        request.POST or None,
        instance=field,
        organization=request.organization,
        applies_to=field.applies_to,
    )
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_field(
                form.save(commit=False), actor=_member(request), changed=form.changed_data
            )
        except ValidationError as error:
            add_errors(form, error, FIELD_FORM_NAMES)
        else:
            messages.success(
                request, _("The field “%(label)s” was saved.") % {"label": field.local_label}
            )
            return redirect(
                "profiles:field_list", org_slug=org_slug, url_kind=url_kind_of(field.applies_to)
            )
    return render(
        request,
        "profiles/fields/form.html",
        {
            "form": form,
            "field": field,
            "kind": field.applies_to,
            "url_kind": url_kind_of(field.applies_to),
        },
    )


@admin_required
@require_POST
def field_archive(request: OrganizationRequest, org_slug: str, field_uuid: Any) -> HttpResponse:
    field = get_for_org(request, DataField, uuid=field_uuid)
    if field.archived_at:
        actions.restore_field(field, actor=_member(request))
        messages.success(
            request, _("The field “%(label)s” was restored.") % {"label": field.local_label}
        )
    else:
        actions.archive_field(field, actor=_member(request))
        messages.success(
            request,
            _("The field “%(label)s” was archived; its values and history are kept.")
            % {"label": field.local_label},
        )
    return redirect(
        "profiles:field_list", org_slug=org_slug, url_kind=url_kind_of(field.applies_to)
    )


@admin_required
@require_POST
def field_move(request: OrganizationRequest, org_slug: str, field_uuid: Any) -> HttpResponse:
    field = get_for_org(request, DataField, uuid=field_uuid)
    actions.move_field(field, actor=_member(request), up=request.POST.get("direction") == "up")
    return redirect(
        "profiles:field_list", org_slug=org_slug, url_kind=url_kind_of(field.applies_to)
    )
