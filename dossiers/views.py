from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.middleware import HtmxDetails

from dossiers import actions, list_rows, review, selectors, versions
from dossiers.filters import DossierFilterSet
from dossiers.forms import ClassicDossierForm, RejectForm
from dossiers.models import Dossier, DossierItem, DossierRecord, ItemRejection, ItemReview
from dossiers.signals import dossier_notes
from organizations.actors import Actor
from organizations.http import OrganizationRequest
from organizations.lookups import get_for_org, search_query
from outbox import selectors as outbox_selectors
from profiles import bulk, fieldtypes, sorting
from profiles.models import FieldValue, Kind, Profile
from profiles.views import INLINE_TYPES, serve_file

PAGE_SIZE = 25


class ReviewRequest(OrganizationRequest):
    """A review decision: made in place by htmx, or as a form posted without JavaScript."""

    htmx: HtmxDetails


OWN_ANSWERS = gettext_lazy(
    "You gave these answers on the client's behalf: another member decides on them."
)
INVOLVED = gettext_lazy(
    "You sent this dossier's link again, or changed the contact data of whoever answered "
    "it: another member decides on its answers."
)


def _group_model() -> Any:
    # The group lives in the monitoring app, to the right of this one: reached through the
    # foreign key, never imported.
    return Dossier._meta.get_field("update_group").related_model


# The list's sortable columns: each key's order ends with a unique column.
SORTS = {
    "client": ("profile__last_name", "profile__name", "profile__first_name", "id"),
    "title": ("title", "id"),
    "status": ("status", "id"),
    "created": ("created_at", "id"),
    "expires": ("expires_at", "id"),
}
SORT_LABELS = [
    ("client", gettext_lazy("Client")),
    ("title", gettext_lazy("Request")),
    ("status", gettext_lazy("Status")),
    ("created", gettext_lazy("Created")),
    ("expires", gettext_lazy("Expires")),
]
FILTERS = ("status", "kind", "group", "q", "outstanding", "undeliverable")


# The filters on the dossiers' own columns, whose counts only the dossiers' writes move (a
# search or an e-mail's fate are counted each time).
COUNTED_FILTERS = ("status", "kind")


class CountedPaginator(Paginator):
    """A paginator given its count, when it is known without counting the rows again."""

    def __init__(self, object_list: Any, per_page: int, count: int | None) -> None:
        super().__init__(object_list, per_page)
        if count is not None:
            self.__dict__["count"] = count  # what the cached_property would have stored


def _total(request: OrganizationRequest, filters: DossierFilterSet, rows: Any) -> int | None:
    """The list's length, kept under the organisation's version of its dossiers
    (`dossiers.versions`) when only the dossiers' own columns filter it: an exact count of
    every dossier was most of the first page's time."""
    if not filters.is_valid() or any(
        request.GET.get(name) for name in filters.filters if name not in COUNTED_FILTERS
    ):
        return None
    chosen = ":".join(str(filters.form.cleaned_data.get(name) or "") for name in COUNTED_FILTERS)
    return versions.cached(request.organization.pk, f"list:{chosen}", rows.count)


def dossier_list(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    filters = DossierFilterSet(
        request.GET,
        queryset=Dossier.objects.filter(organization=request.organization),
    )
    # What the filter's options show of each group.
    groups = list(
        _group_model()
        .objects.filter(organization=request.organization)
        .only("uuid", "title", "translations")
    )
    sort = sorting.chosen(request.GET.get("sort"), SORTS, "-created")
    rows = list_rows.selected(filters.qs.order_by(*sort.order_by))
    page = CountedPaginator(rows, PAGE_SIZE, _total(request, filters, rows)).get_page(
        request.GET.get("page")
    )
    match = request.resolver_match
    return render(
        request,
        "dossiers/list.html",
        {
            "page": page,
            "rows_html": list_rows.rows_html(
                page, org_slug, match.namespace if match is not None else None
            ),
            "statuses": Dossier.Status.choices,
            "kinds": Dossier.Kind.choices,
            "groups": groups,
            "status": request.GET.get("status", ""),
            "kind": request.GET.get("kind", ""),
            "group": request.GET.get("group", ""),
            "outstanding": request.GET.get("outstanding") == "true",
            "undeliverable": request.GET.get("undeliverable") == "true",
            "query": search_query(request),
            "filtered": any(request.GET.get(name) for name in FILTERS),
            "sort": sort,
            "headers": sorting.headers(request.GET, SORT_LABELS, sort),
        },
    )


def _back_to(data: Any, org_slug: str) -> str:
    """The list a bulk form came from (it says so), else the contacts."""
    url_kind = data.get("list")
    if url_kind == "dossiers":
        return reverse("dossiers:list", args=[org_slug])
    return reverse(
        "profiles:list", args=[org_slug, url_kind if url_kind == "companies" else "contacts"]
    )


@require_http_methods(["GET", "POST"])
def bulk_request(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    """Request information from the ticked contacts or companies: one classic dossier each,
    opened by `open_dossier` (one audit entry each), all or none."""
    data = request.POST if request.method == "POST" else request.GET
    back = _back_to(data, org_slug)
    try:
        profiles = bulk.selected(
            data.getlist("profile"),
            Profile.objects.filter(organization=request.organization),
            ("kind", "last_name", "name", "first_name", "id"),
        )
        if len({p.kind for p in profiles}) > 1:
            raise bulk.Refused(_("Select contacts or companies, not both: nothing was done."))
    except bulk.Refused as refusal:
        messages.error(request, refusal.message)
        return redirect(back)
    askable = [p for p in profiles if not p.is_archived]
    form = ClassicDossierForm(
        request.POST if request.method == "POST" else None, profile=profiles[0]
    )
    if request.method == "POST" and askable and form.is_valid():
        try:
            # All or none: one refusal undoes the dossiers opened before it.
            with transaction.atomic():
                for profile in askable:
                    actions.open_dossier(
                        profile,
                        fields=list(form.cleaned_data["fields"]),
                        title=form.cleaned_data["title"],
                        message=form.cleaned_data["message"],
                        days=form.cleaned_data["days"],
                        actor=Actor.member(request.user),
                    )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request,
                ngettext(
                    "%(n)d dossier was opened and its link sent.",
                    "%(n)d dossiers were opened and their links sent.",
                    len(askable),
                )
                % {"n": len(askable)},
            )
            return redirect(back)
    return render(
        request,
        "dossiers/bulk_request.html",
        {
            "form": form,
            "profiles": profiles,
            "askable": askable,
            "archived": len(profiles) - len(askable),
            "companies": profiles[0].kind == Kind.COMPANY,
            "back": back,
            "list": data.get("list", ""),
        },
    )


@require_http_methods(["GET", "POST"])
def bulk_remind(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    """Send the ticked dossiers' clients their link again: `resend_link` for each one still
    open (one audit entry each); closed ones have no link and stay as they are."""
    data = request.POST if request.method == "POST" else request.GET
    back = reverse("dossiers:list", args=[org_slug])
    try:
        dossiers = bulk.selected(
            data.getlist("dossier"),
            Dossier.objects.filter(organization=request.organization).select_related(
                "profile", "organization"
            ),
            ("-created_at", "-id"),
        )
    except bulk.Refused as refusal:
        messages.error(request, refusal.message)
        return redirect(back)
    open_ones = [d for d in dossiers if d.is_open]
    if request.method == "POST" and data.get("confirm") == "yes":
        with transaction.atomic():
            for dossier in open_ones:
                actions.resend_link(dossier, actor=Actor.member(request.user))
        messages.success(
            request,
            ngettext(
                "The link was sent again for %(n)d dossier.",
                "The link was sent again for %(n)d dossiers.",
                len(open_ones),
            )
            % {"n": len(open_ones)},
        )
        return redirect(back)
    return render(
        request,
        "dossiers/bulk_remind.html",
        {
            "dossiers": dossiers,
            "open_ones": open_ones,
            "closed": len(dossiers) - len(open_ones),
            "back": back,
        },
    )


def _get_dossier(request: OrganizationRequest, dossier_uuid: Any) -> Dossier:
    return get_for_org(
        request,
        Dossier.objects.select_related("profile", "update_group", "organization"),
        uuid=dossier_uuid,
    )


def _undo_offered(dossier: Dossier, item: DossierItem, now: dt.datetime) -> str:
    """Which decision of the item its row offers to take back, right after it was made:
    "approval", "send_back" or "". The undo checks everything again when clicked."""
    if item.reviewed_at is None or now - item.reviewed_at > review.UNDO_OFFERED:
        return ""
    if item.review == ItemReview.REJECTED and dossier.status in (
        Dossier.Status.TO_REVIEW,
        Dossier.Status.CHANGES_REQUESTED,
    ):
        return "send_back"
    # An approval that put back nothing (a first value, a "still correct") has nothing
    # for the history to restore.
    replaced = item.initial_document_id is not None or item.initial_value is not None
    if (
        item.review == ItemReview.APPROVED
        and dossier.status in (Dossier.Status.TO_REVIEW, Dossier.Status.APPROVED)
        and replaced
        and not (item.confirmed and not item.value_changed)
    ):
        return "approval"
    return ""


def _item_rows(dossier: Dossier, only: DossierItem | None = None) -> list[dict[str, Any]]:
    rows = []
    now = timezone.now()
    items = dossier.items.select_related(
        "field",
        "initial_document",
        "written_document",
        "answered_by",
        "answered_by_user",
        "reviewed_by",
    ).prefetch_related(
        Prefetch(
            "rejections",
            queryset=ItemRejection.objects.select_related("rejected_by"),
        )
    )
    if only is not None:
        items = items.filter(pk=only.pk)
    for item in items:
        field = item.field
        if item.removing:
            answer = str(_("Remove this value"))
        elif field.is_document:
            answer = (
                item.written_document.name if item.written_document else item.upload_name
            ) or ""
        elif item.confirmed and not item.value_changed:
            answer = str(_("Still correct"))
        else:
            answer = fieldtypes.display(field, item.answer) if item.answered else ""
        rows.append(
            {
                "item": item,
                "key": field.uuid.hex,
                "initial": fieldtypes.display(field, item.initial_value)
                if not field.is_document
                else (item.initial_document.name if item.initial_document else ""),
                "answer": answer,
                "answered": item.answered or bool(item.upload) or item.confirmed,
                "removal": item.removing,
                "previewable": (item.upload_content_type or "") in INLINE_TYPES,
                "is_image": (item.upload_content_type or "").startswith("image/"),
                "undo": _undo_offered(dossier, item, now),
                "sent_back": [r for r in item.rejections.all() if r.undone_at is None],
            }
        )
    return rows


def dossier_detail(
    request: OrganizationRequest,
    org_slug: str,
    dossier_uuid: Any,
    *,
    reject_errors: dict[str, str] | None = None,
    status: int = 200,
) -> HttpResponse:
    dossier = _get_dossier(request, dossier_uuid)
    rows = _item_rows(dossier)
    recipients = selectors.recipients(dossier)
    notes = [
        note
        for _receiver, answer in dossier_notes.send(sender=Dossier, dossier=dossier)
        for note in answer or []
    ]
    return render(
        request,
        "dossiers/detail.html",
        {
            **_review_state(dossier, rows),
            "rows": rows,
            "recipients": recipients,
            "failing_addresses": list(
                outbox_selectors.failing_addresses(
                    dossier.organization_id, [r.email for r in recipients]
                ).values()
            ),
            "reviewing": dossier.status == Dossier.Status.TO_REVIEW,
            "pending": sum(1 for row in rows if row["item"].review == ItemReview.PENDING),
            "reject_errors": reject_errors or {},
            "reasons": {key: request.POST.get("reason", "") for key in reject_errors or {}},
            "outgoing": selectors.messages_about(dossier)[:20],
            "notes": notes,
        },
        status=status,
    )


def _review_state(dossier: Dossier, rows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the review bar and the status badge show; counted again after a decision made
    in place (`rows` when the page has them all already)."""
    if rows is None:
        pending = dossier.items.filter(review=ItemReview.PENDING).count()
    else:
        pending = sum(1 for row in rows if row["item"].review == ItemReview.PENDING)
    return {
        "dossier": dossier,
        "reviewing": dossier.status == Dossier.Status.TO_REVIEW,
        "pending": pending,
        "decided": dossier.status
        in (Dossier.Status.TO_REVIEW, Dossier.Status.CHANGES_REQUESTED, Dossier.Status.APPROVED),
    }


def _decided(
    request: ReviewRequest,
    dossier: Dossier,
    item: DossierItem,
    notice: str,
    *,
    error: str = "",
    reject_error: str = "",
) -> HttpResponse:
    """After a decision on one item: in place, that item's row (with its notice and its
    Undo) and the review bar and status badge out of band; without JavaScript, the page
    again at that item, the notice on top."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, notice)
        url = reverse("dossiers:detail", args=[dossier.organization.slug, dossier.uuid])
        return redirect(f"{url}#item-{item.field.uuid.hex}")
    dossier.refresh_from_db(fields=["status", "decided_at"])
    [row] = _item_rows(dossier, only=item)
    return render(
        request,
        "dossiers/item_decided.html",
        {
            **_review_state(dossier),
            "row": row,
            "notice": notice,
            "error": error,
            "reject_errors": {row["key"]: reject_error} if reject_error else {},
            "reasons": {row["key"]: request.POST.get("reason", "")} if reject_error else {},
        },
    )


def dossier_record(request: OrganizationRequest, org_slug: str, dossier_uuid: Any) -> HttpResponse:
    """Where a value came from: the dossier while it exists, then what the purge kept of it."""
    if Dossier.objects.filter(organization=request.organization, uuid=dossier_uuid).exists():
        return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier_uuid)
    record: DossierRecord = get_for_org(
        request, DossierRecord.objects.select_related("profile"), dossier_uuid=dossier_uuid
    )
    return render(request, "dossiers/record.html", {"record": record})


def review_queue(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    """Dossiers > To review: submitted answers waiting for staff, oldest first."""
    dossiers = (
        Dossier.objects.filter(organization=request.organization)
        .to_review()
        .select_related("profile", "update_group")
        .order_by("submitted_at", "id")
    )
    # One count for the pages and the menu's badge, which counts the same dossiers.
    count = dossiers.count()
    page = CountedPaginator(dossiers, PAGE_SIZE, count).get_page(request.GET.get("page"))
    return render(request, "dossiers/review_queue.html", {"page": page, "to_review_count": count})


def _item_of(dossier: Dossier, key: str) -> DossierItem:
    item = (
        DossierItem.objects.filter(dossier=dossier, field__uuid__in=_uuids(key))
        .select_related("field")
        .first()
    )
    if item is None:
        raise Http404
    return item


def _uuids(key: str) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(hex=key)]
    except (ValueError, TypeError):
        return []


def _pending_changes(dossier: Dossier) -> list[dict[str, Any]]:
    """What approving every pending item would do, item by item: the value on file now
    (staff may have changed it since the request) and what would replace it."""
    items = list(
        dossier.items.filter(review=ItemReview.PENDING).select_related("field", "initial_document")
    )
    on_file = {
        value.field_id: value
        for value in FieldValue.objects.filter(
            profile_id=dossier.profile_id, field__in=[item.field_id for item in items]
        ).select_related("document")
    }
    changes = []
    for item in items:
        field, current = item.field, on_file.get(item.field_id)
        if field.is_document:
            before = current.document.name if current and current.document else ""
            after = item.upload_name
        else:
            before = fieldtypes.display(field, current.value) if current else ""
            after = fieldtypes.display(field, item.answer)
        if item.removing:
            after, kind = "", "removal"
        elif item.confirmed and not item.value_changed:
            after, kind = before, "confirmation"
        else:
            kind = "change"
        # What the page shows, fingerprinted: its confirmation approves an item only while
        # the answer and the value on file are still the ones shown.
        facts = [item.pk, item.answer, item.upload, item.remove_requested, item.confirmed]
        shown = json.dumps([*facts, before, after], default=str)
        token = f"{field.uuid.hex}.{hashlib.sha256(shown.encode()).hexdigest()[:16]}"
        changes.append(
            {
                "item": item,
                "key": field.uuid.hex,
                "token": token,
                "before": before,
                "after": after,
                "kind": kind,
            }
        )
    return changes


@require_http_methods(["GET", "POST"])
def dossier_approve(request: ReviewRequest, org_slug: str, dossier_uuid: Any) -> HttpResponse:
    """Approves one item (`item`: its field's key) or, once confirmed, every pending item.

    "Approve all" first shows what will change, item by item, removals highlighted (a page
    of its own, so that it works without JavaScript); only its confirmation, which names the
    items shown, approves them. A POST without it decides nothing and shows the same page.
    """
    dossier = _get_dossier(request, dossier_uuid)
    key = request.POST.get("item", "")
    item = _item_of(dossier, key) if key else None
    if item is None and request.POST.get("confirm") != "yes":
        if dossier.status != Dossier.Status.TO_REVIEW:
            messages.error(request, _("This dossier is not waiting for review any more."))
            return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)
        return render(
            request,
            "dossiers/approve_all.html",
            {"dossier": dossier, "changes": _pending_changes(dossier)},
        )
    if item is not None:
        chosen = [item.pk]
    else:
        # Only the items the page showed, as it showed them: if an answer or the value on
        # file moved since (the client answered again, a colleague decided), nothing is
        # approved and the page is shown again as it now is.
        changes = _pending_changes(dossier)
        shown = set(request.POST.getlist("shown"))
        current = {change["token"] for change in changes}
        if shown - current:
            messages.error(
                request,
                _(
                    "These answers changed since the page was shown. Check them again before "
                    "approving."
                ),
            )
            return render(
                request,
                "dossiers/approve_all.html",
                {"dossier": dossier, "changes": changes},
                status=409,
            )
        chosen = [change["item"].pk for change in changes if change["token"] in shown]
    try:
        approved = (
            actions.approve(dossier, item_ids=chosen, actor=Actor.member(request.user)).approved
            if chosen
            else ()
        )
    except review.Involved:
        if item is not None:
            return _decided(request, dossier, item, "", error=str(INVOLVED))
        messages.error(request, INVOLVED)
        return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)
    except review.OwnAnswers:
        if item is not None:
            return _decided(request, dossier, item, "", error=str(OWN_ANSWERS))
        messages.error(request, OWN_ANSWERS)
        return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)
    except review.NotReviewable:
        refusal = _("This dossier is not waiting for review any more.")
        if item is not None:
            return _decided(request, dossier, item, "", error=refusal)
        messages.error(request, refusal)
        return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)
    if item is not None:
        if not approved:
            return _decided(request, dossier, item, _("Nothing was left to approve."))
        return _decided(
            request,
            dossier,
            item,
            _("The removal was approved: the value is no longer on the profile.")
            if item.removing
            else _("Approved and written to the profile."),
        )
    if not approved:
        message = _("Nothing was left to approve.")
    elif item is not None and item.removing:
        message = _("The removal was approved: the value is no longer on the profile.")
    else:
        message = _("Approved and written to the profile.")
    messages.success(request, message)
    return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)


@require_POST
def dossier_reject(request: ReviewRequest, org_slug: str, dossier_uuid: Any) -> HttpResponse:
    """Sends one item back to the client, with the reason they will read."""
    dossier = _get_dossier(request, dossier_uuid)
    item = _item_of(dossier, request.POST.get("item", ""))
    form = RejectForm(request.POST)
    error = ""
    if not form.is_valid():
        error = "; ".join(str(e) for e in form.errors.get("reason", []))
    else:
        try:
            actions.send_back(
                dossier,
                item=item,
                reason=form.cleaned_data["reason"],
                actor=Actor.member(request.user),
            )
        except ValidationError as refusal:
            error = "; ".join(refusal.messages)
        except review.Involved:
            return _decided(request, dossier, item, "", error=str(INVOLVED))
        except review.OwnAnswers:
            return _decided(request, dossier, item, "", error=str(OWN_ANSWERS))
        except review.NotReviewable:
            refusal_text = _("This item is not waiting for review any more.")
            return _decided(request, dossier, item, "", error=refusal_text)
    if error:
        if request.htmx:
            return _decided(request, dossier, item, "", reject_error=error)
        return dossier_detail(
            request,
            org_slug,
            dossier.uuid,
            reject_errors={item.field.uuid.hex: error},
            status=400,
        )
    return _decided(request, dossier, item, _("The item was sent back to the client."))


@require_POST
def dossier_undo(request: ReviewRequest, org_slug: str, dossier_uuid: Any) -> HttpResponse:
    """Takes back the decision just made on one item: an approval through the history's
    restore, a sending back by cancelling its e-mail while it waits in the outbox."""
    dossier = _get_dossier(request, dossier_uuid)
    item = _item_of(dossier, request.POST.get("item", ""))
    actor = Actor.member(request.user)
    try:
        if item.review == ItemReview.APPROVED:
            actions.undo_approval(dossier, item=item, actor=actor)
            notice = _("Approval undone: the earlier value is back on the profile.")
        elif item.review == ItemReview.REJECTED:
            actions.undo_send_back(dossier, item=item, actor=actor)
            notice = _("Sending back undone: the client will not be e-mailed about it.")
        else:
            raise review.CannotUndo(_("This answer waits for review: nothing to undo."))
    except review.CannotUndo as refusal:
        return _decided(request, dossier, item, "", error=str(refusal))
    except ValidationError as refusal:
        return _decided(request, dossier, item, "", error="; ".join(refusal.messages))
    return _decided(request, dossier, item, notice)


def rejected_upload(
    request: OrganizationRequest, org_slug: str, dossier_uuid: Any, rejection_id: int
) -> HttpResponseBase:
    """A file the client sent that staff sent back: kept, for staff to see."""
    dossier = _get_dossier(request, dossier_uuid)
    rejection: ItemRejection = get_for_org(
        request,
        ItemRejection.objects.select_related("item__field").exclude(upload=""),
        pk=rejection_id,
        item__dossier=dossier,
    )
    response = serve_file(
        rejection.upload,
        rejection.upload_name,
        rejection.upload_content_type,
        inline=request.GET.get("inline") == "1",
    )
    if request.GET.get("inline") != "1":
        actions.note_upload_downloaded(
            dossier, item=rejection.item, actor=Actor.member(request.user)
        )
    return response


def item_upload(
    request: OrganizationRequest, org_slug: str, dossier_uuid: Any, field_key: str
) -> HttpResponseBase:
    """A client's upload awaiting review, to download or see in the review page."""
    dossier = _get_dossier(request, dossier_uuid)
    item = _item_of(dossier, field_key)
    if not item.upload:
        raise Http404
    response = serve_file(
        item.upload,
        item.upload_name,
        item.upload_content_type,
        inline=request.GET.get("inline") == "1",
    )
    actions.note_upload_downloaded(
        dossier,
        item=item,
        actor=Actor.member(request.user),
        inline=request.GET.get("inline") == "1",
    )
    return response


@require_POST
def dossier_open_link(
    request: OrganizationRequest, org_slug: str, dossier_uuid: Any
) -> HttpResponse:
    """Opens the client's page for staff to fill in on the client's behalf.

    The link is the staff member's own: it works only in their session, and what they
    submit is recorded as theirs, on the recipient's behalf.
    """
    dossier = _get_dossier(request, dossier_uuid)
    try:
        token = actions.open_client_page(dossier, actor=Actor.member(request.user))
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
        return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)
    return redirect(reverse("portal:dossier", kwargs={"token": token}))


@require_POST
def dossier_resend(request: OrganizationRequest, org_slug: str, dossier_uuid: Any) -> HttpResponse:
    dossier = _get_dossier(request, dossier_uuid)
    try:
        failing = actions.resend_link(dossier, actor=Actor.member(request.user))
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
    else:
        messages.success(request, _("A new link is on its way to the client."))
        if failing:
            messages.warning(
                request,
                _("Not sent to %(addresses)s: e-mails to it bounce or were reported as spam.")
                % {"addresses": ", ".join(failing)},
            )
    return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)


@require_http_methods(["GET", "POST"])
def dossier_create(request: OrganizationRequest, org_slug: str, profile_uuid: Any) -> HttpResponse:
    profile = get_for_org(request, Profile, uuid=profile_uuid)
    try:
        # The page offers no button for a profile that cannot have one (archived): its
        # form is not shown either, and a crafted POST is refused the same way.
        actions.check_dossier_can_open(profile)
    except ValidationError as error:
        messages.error(request, "; ".join(error.messages))
        return redirect("profiles:detail", org_slug=org_slug, profile_uuid=profile.uuid)
    form = ClassicDossierForm(request.POST or None, profile=profile)
    if request.method == "POST" and form.is_valid():
        try:
            dossier = actions.open_dossier(
                profile,
                fields=list(form.cleaned_data["fields"]),
                title=form.cleaned_data["title"],
                message=form.cleaned_data["message"],
                days=form.cleaned_data["days"],
                actor=Actor.member(request.user),
            )
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The dossier was opened and its link sent to the client."))
            failing = outbox_selectors.failing_addresses(
                request.organization.pk, [r.email for r in selectors.recipients(dossier)]
            )
            if failing:
                messages.warning(
                    request,
                    _(
                        "Its e-mail will not reach %(addresses)s: e-mails to it bounce or were "
                        "reported as spam. Correct the address, or try it again from the profile."
                    )
                    % {"addresses": ", ".join(sorted(failing))},
                )
            return redirect("dossiers:detail", org_slug=org_slug, dossier_uuid=dossier.uuid)
    return render(request, "dossiers/create.html", {"form": form, "profile": profile})


def _add_errors(form: ClassicDossierForm, error: ValidationError) -> None:
    """An action's errors on the form's fields they name, the others above the form."""
    for name, errors in error.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def profile_dossiers(
    request: OrganizationRequest, org_slug: str, profile_uuid: Any
) -> HttpResponse:
    """The dossiers section of a profile page, loaded into it by URL."""
    profile = get_for_org(request, Profile, uuid=profile_uuid)
    dossiers = list(
        Dossier.objects.filter(profile=profile)
        .select_related("update_group")
        .order_by("-created_at")[:20]
    )
    records = list(DossierRecord.objects.filter(profile=profile).order_by("-created_at")[:10])
    return render(
        request,
        "dossiers/profile_dossiers.html",
        {"profile": profile, "dossiers": dossiers, "records": records},
    )
