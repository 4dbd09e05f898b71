from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from organizations.decorators import admin_required
from organizations.http import OrganizationRequest
from organizations.lookups import get_for_org, search_query
from organizations.models import audit
from profiles import attention, fieldtypes, previews, value_rows
from profiles import audit as audit_actions
from profiles.filters import DataFieldFilterSet, ProfileFilterSet
from profiles.forms import DataFieldForm, ValuesForm, profile_form_class
from profiles.models import (
    DataField,
    Document,
    FieldValue,
    FieldValueHistory,
    HistoryKind,
    Kind,
    Profile,
    Source,
    url_kind_of,
)
from profiles.services import (
    NewValue,
    StorageUnavailable,
    apply_values,
    delete_stored,
    new_document,
    store_uploads,
)
from profiles.signals import value_notes
from profiles.storage import open_for_download
from profiles.uploads import name_for_type

PAGE_SIZE = 25
KIND_OF_URL = {"contacts": Kind.CONTACT, "companies": Kind.COMPANY}


def _kind(url_kind: str) -> str:
    try:
        return KIND_OF_URL[url_kind]
    except KeyError:
        raise Http404 from None


def _get_profile(request: OrganizationRequest, profile_uuid: Any) -> Profile:
    return get_for_org(request, Profile.objects.select_related("company"), uuid=profile_uuid)


def today(request: OrganizationRequest) -> Any:
    return timezone.localdate(timezone=request.organization.tzinfo)


def profile_list(request: OrganizationRequest, org_slug: str, url_kind: str) -> HttpResponse:
    kind = _kind(url_kind)
    filters = ProfileFilterSet(
        request.GET,
        queryset=Profile.objects.filter(organization=request.organization).of_kind(kind),
    )
    profiles = filters.qs
    if kind == Kind.CONTACT:
        profiles = profiles.select_related("company").order_by("last_name", "first_name", "id")
    else:
        profiles = profiles.order_by("name", "id")
    needs_attention = request.GET.get("attention") == "1"
    if needs_attention:
        profiles = attention.needing_attention(
            profiles, request.organization.pk, kind, today(request)
        )
    page = Paginator(profiles, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "profiles/list.html",
        {
            "kind": kind,
            "url_kind": url_kind,
            "page": page,
            "query": search_query(request),
            "status": filters.data["status"],
            "representatives": request.GET.get("representatives") == "1",
            "needs_attention": needs_attention,
            "flagged": attention.flagged(
                request.organization.pk, kind, today(request), [p.pk for p in page]
            ),
        },
    )


@require_http_methods(["GET", "POST"])
def profile_create(request: OrganizationRequest, org_slug: str, url_kind: str) -> HttpResponse:
    kind = _kind(url_kind)
    form = profile_form_class(kind)(request.POST or None, organization=request.organization)
    if request.method == "POST" and form.is_valid():
        profile = form.save()
        audit(request, audit_actions.PROFILE_CREATED, profile, kind=profile.kind)
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
        before = {name: form.initial.get(name) for name in form.changed_data}
        form.save()
        if form.changed_data:
            details: dict[str, object] = {"changed": ", ".join(form.changed_data)}
            if "email" in form.changed_data:
                details.update(email_before=before["email"], email_after=profile.email)
            audit(request, audit_actions.PROFILE_UPDATED, profile, **details)
        messages.success(request, _("%(name)s was saved.") % {"name": profile.display_name})
        return redirect("profiles:detail", org_slug=org_slug, profile_uuid=profile.uuid)
    return render(
        request,
        "profiles/form.html",
        {"form": form, "profile": profile, "kind": profile.kind, "url_kind": profile.url_kind},
    )


@require_POST
def profile_archive(request: OrganizationRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = _get_profile(request, profile_uuid)
    if profile.is_archived:
        profile.archived_at = None
        action = audit_actions.PROFILE_RESTORED
        messages.success(request, _("%(name)s was restored.") % {"name": profile.display_name})
    else:
        profile.archived_at = timezone.now()
        action = audit_actions.PROFILE_ARCHIVED
        messages.success(request, _("%(name)s was archived.") % {"name": profile.display_name})
    profile.save(update_fields=["archived_at", "updated_at"])
    audit(request, action, profile)
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


def profile_detail(request: OrganizationRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = _get_profile(request, profile_uuid)
    fields, values = _fields_and_values(profile)
    day = today(request)
    notes: dict[int, list[str]] = {}
    for _receiver, answer in value_notes.send(sender=Profile, profile=profile):
        # Receivers answer {field id: note}; the stubs type a signal's answers as str.
        for field_id, note in (answer or {}).items():  # type: ignore[union-attr]
            notes.setdefault(field_id, []).append(note)
    rows: dict[str, list[dict[str, Any]]] = {}
    for field in fields:
        value = values.get(field.pk)
        rows.setdefault(field.section, []).append(
            {
                "field": field,
                "value": value,
                "display": fieldtypes.display(field, value.value) if value else "",
                "expiry": value.expiry_status(day) if value else None,
                "notes": notes.get(field.pk, []),
            }
        )
    page = value_rows.page_of(org_slug, profile.uuid)
    sections = {section: value_rows.rows_html(rows[section], page) for section in rows}
    representatives = (
        list(Profile.objects.active().filter(company=profile).order_by("last_name"))
        if profile.kind == Kind.COMPANY
        else []
    )
    return render(
        request,
        "profiles/detail.html",
        {
            "profile": profile,
            "sections": sections,
            "representatives": representatives,
        },
    )


@require_http_methods(["GET", "POST"])
def values_edit(request: OrganizationRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = _get_profile(request, profile_uuid)
    fields, values = _fields_and_values(profile)
    form = ValuesForm(request.POST or None, request.FILES or None, fields=fields, values=values)
    if request.method == "POST" and form.is_valid():
        changes = form.changed_values()
        try:
            # Files go to storage before the transaction (slow I/O); if it fails, they go.
            stored = store_uploads({f.pk: v for f, v in changes if f.is_document})
        except StorageUnavailable:
            form.add_error(
                None, _("The files could not be stored just now. Nothing was saved: try again.")
            )
            return render(request, "profiles/values_form.html", {"profile": profile, "form": form})
        try:
            with transaction.atomic():
                new_values = []
                for field, value in changes:
                    if field.is_document:
                        document = new_document(profile, field, stored[field.pk])
                        new_values.append(NewValue(field, str(document.uuid), document))
                    else:
                        new_values.append(NewValue(field, value))
                new_values += [NewValue(field, None, remove=True) for field in form.removals]
                rows = apply_values(profile, new_values, source=Source.STAFF, user=request.user)
        except Exception:
            delete_stored(stored.values())
            raise
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
            "api_key",
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
    page = Paginator(history, 50).get_page(request.GET.get("page"))
    for row in page:
        # Read by the template only: the values as this reader's language writes them.
        row.old_display = fieldtypes.display(row.field, row.old_value)  # type: ignore[attr-defined]
        row.new_display = fieldtypes.display(row.field, row.new_value)  # type: ignore[attr-defined]
        row.restorable = _restorable(row)  # type: ignore[attr-defined]
    return render(
        request,
        "profiles/history.html",
        {"profile": profile, "page": page, "field": field},
    )


def _restorable(row: FieldValueHistory) -> bool:
    """A change whose earlier value can be put back: the way back from a mistaken edit or
    approval. A change that created the value has nothing earlier: removing it is the values
    form's "Remove this value"."""
    return (
        row.kind == HistoryKind.CHANGE
        and row.old_value is not None
        and row.field.archived_at is None
        and (not row.field.is_document or row.old_document_id is not None)
    )


def _restore_refusal(row: FieldValueHistory) -> str | None:
    """Why the earlier value is no longer a valid value of its field (a choice taken off the
    list since), or None: a restore is a door like any other."""
    field = row.field
    if field.is_document:
        return None
    form_field = fieldtypes.form_field(field, required=True, value=row.old_value)
    try:
        form_field.clean(fieldtypes.to_initial(field, row.old_value))
    except ValidationError as error:
        return " ".join(error.messages)
    return None


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
    if not _restorable(row):
        raise Http404
    field = row.field
    current = (
        FieldValue.objects.filter(profile=profile, field=field).select_related("document").first()
    )
    now_shown = _shown(field, current.value, current.document) if current else ""
    refusal = _restore_refusal(row)
    history_url = f"{reverse('profiles:history', args=[org_slug, profile.uuid])}?field={field.uuid}"
    if request.method == "POST" and refusal is None:
        rows = apply_values(
            profile,
            [NewValue(field, row.old_value, row.old_document)],
            source=Source.STAFF,
            user=request.user,
        )
        if not rows:
            messages.info(request, _("Nothing changed."))
            return redirect(history_url)
        audit(
            request,
            audit_actions.VALUE_RESTORED,
            f"{profile.display_name} — {field.label}",
            before=now_shown,
            after=_shown(field, row.old_value, row.old_document),
            replaced_on=row.changed_at,
        )
        messages.success(
            request, _("The earlier value of “%(label)s” was restored.") % {"label": field.label}
        )
        return redirect(history_url)
    return render(
        request,
        "profiles/restore.html",
        {
            "profile": profile,
            "row": row,
            "field": field,
            "current": now_shown,
            "restored": _shown(field, row.old_value, row.old_document),
            "unchanged": current is not None
            and current.value == row.old_value
            and current.document_id == row.old_document_id,
            "refusal": refusal,
            "history_url": history_url,
        },
        status=422 if refusal and request.method == "POST" else 200,
    )


def _shown(field: DataField, value: Any, document: Document | None) -> str:
    return document.name if document is not None else fieldtypes.display(field, value)


# Types shown in the review page, checked by content on upload (profiles.uploads): those a
# browser shows itself, safely, and HEIC through its JPEG copy (profiles.previews).
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/webp", *previews.CONVERTED}


def serve_document(document: Document, *, inline: bool = False) -> FileResponse:
    return serve_file(document.file, document.name, document.content_type, inline=inline)


def serve_file(file: Any, name: str, content_type: str, *, inline: bool = False) -> FileResponse:
    """A stored file as a download, or shown in the page for review where it can be."""
    inline = inline and content_type in INLINE_TYPES
    try:
        if inline and content_type in previews.CONVERTED:
            handle = previews.open_preview(file, content_type)
            content_type = "image/jpeg"
        else:
            handle = open_for_download(file)
    except ValidationError:
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=not inline,
        # Rows stored before names followed the sniffed type are corrected on the way out.
        filename=name_for_type(name, content_type),
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if inline:
        # Framed by our own review page only (the site's default is to refuse all framing).
        response["X-Frame-Options"] = "SAMEORIGIN"
        response._csp_replace = {"frame-ancestors": ["'self'"]}  # type: ignore[attr-defined]
    return response


def document_download(
    request: OrganizationRequest, org_slug: str, document_uuid: Any
) -> FileResponse:
    document: Document = get_for_org(
        request, Document.objects.select_related("profile"), uuid=document_uuid
    )
    response = serve_document(document, inline=request.GET.get("inline") == "1")
    audit(
        request,
        audit_actions.DOCUMENT_DOWNLOADED,
        document.name,
        document=document.uuid,
        profile=document.profile.display_name,
    )
    return response


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


@admin_required
@require_http_methods(["GET", "POST"])
def field_create(request: OrganizationRequest, org_slug: str, url_kind: str) -> HttpResponse:
    kind = _kind(url_kind)
    form = DataFieldForm(request.POST or None, organization=request.organization, applies_to=kind)
    if request.method == "POST" and form.is_valid():
        last = (
            DataField.objects.filter(organization=request.organization, applies_to=kind)
            .order_by("-position")
            .first()
        )
        form.instance.position = (last.position + 1) if last else 0
        field = form.save()
        audit(request, audit_actions.FIELD_CREATED, field, type=field.type)
        messages.success(request, _("The field “%(label)s” was created.") % {"label": field.label})
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
        form.save()
        audit(request, audit_actions.FIELD_UPDATED, field, changed=", ".join(form.changed_data))
        messages.success(request, _("The field “%(label)s” was saved.") % {"label": field.label})
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
        field.archived_at = None
        audit(request, audit_actions.FIELD_RESTORED, field)
        messages.success(request, _("The field “%(label)s” was restored.") % {"label": field.label})
    else:
        field.archived_at = timezone.now()
        audit(request, audit_actions.FIELD_ARCHIVED, field)
        messages.success(
            request,
            _("The field “%(label)s” was archived; its values and history are kept.")
            % {"label": field.label},
        )
    field.save(update_fields=["archived_at"])
    return redirect(
        "profiles:field_list", org_slug=org_slug, url_kind=url_kind_of(field.applies_to)
    )


@admin_required
@require_POST
def field_move(request: OrganizationRequest, org_slug: str, field_uuid: Any) -> HttpResponse:
    field = get_for_org(request, DataField, uuid=field_uuid)
    siblings = list(
        DataField.objects.active().filter(
            organization=request.organization,
            applies_to=field.applies_to,
        )
    )
    index = next((i for i, f in enumerate(siblings) if f.pk == field.pk), None)
    step = -1 if request.POST.get("direction") == "up" else 1
    if index is not None and 0 <= index + step < len(siblings):
        siblings[index], siblings[index + step] = siblings[index + step], siblings[index]
        for position, sibling in enumerate(siblings):
            sibling.position = position
        DataField.objects.bulk_update(siblings, ["position"])
    return redirect(
        "profiles:field_list", org_slug=org_slug, url_kind=url_kind_of(field.applies_to)
    )
