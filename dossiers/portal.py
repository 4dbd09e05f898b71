"""The client portal: reached from an e-mailed link, no account, often on a phone."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, cast

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_scopes import scope, scopes_disabled

from dossiers import actions, daily, versions
from dossiers.forms import PortalForm
from dossiers.models import AccessToken, Dossier, DossierItem, hash_token
from dossiers.opening import follow_supersession
from dossiers.selectors import is_recipient
from dossiers.submission import (
    Closed,
    Draft,
    NotAnswered,
    WriteBackError,
    editable_items,
    mark_opened,
)
from organizations.actors import Actor
from organizations.clientip import client_ip
from organizations.display import style_of
from organizations.models import Membership
from profiles import fieldtypes
from profiles.services import StorageUnavailable, delete_stored, store_uploads
from profiles.views import serve_document

logger = logging.getLogger(__name__)

BAD_TOKENS_ALLOWED = 20
BAD_TOKENS_WINDOW = 600  # seconds


def _bad_token_key(request: HttpRequest) -> str:
    return f"portal:bad-token:{client_ip(request)}"


def _too_many_bad_tokens(request: HttpRequest) -> bool:
    return cache.get(_bad_token_key(request), 0) >= BAD_TOKENS_ALLOWED


def _count_bad_token(request: HttpRequest) -> None:
    key = _bad_token_key(request)
    if not cache.add(key, 1, BAD_TOKENS_WINDOW):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, BAD_TOKENS_WINDOW)


def _path_token(request: HttpRequest) -> str | None:
    parts = request.path_info.split("/")
    return parts[2] if len(parts) > 3 and parts[0] == "" and parts[1] == "d" else None


def may_send_full_bodies(request: HttpRequest) -> bool:
    """A live link uploads documents (organizations.security); any other portal path has the
    anonymous limit, so that nobody makes us read 100 MB before the token is looked at."""
    token = _path_token(request)
    if token is None:
        return False
    access = _request_access(request, token)
    return access is not None and access.replaced_at is None


def _request_access(request: HttpRequest, token: str) -> AccessToken | None:
    """`_access`, looked up once per request: a large body's check (above) and the page
    both ask."""
    known = getattr(request, "_portal_access", None)
    if known is not None and known[0] == token:
        return cast(AccessToken | None, known[1])
    access = _access(token)
    setattr(request, "_portal_access", (token, access))  # noqa: B010 - not an HttpRequest field
    return access


def count_refused_body(request: HttpRequest) -> None:
    """A body refused for its size on a portal path, with a token or none, counts as a bad
    token."""
    if request.path_info.startswith("/d/"):
        _count_bad_token(request)


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200):
    response = render(request, f"portal/{template}.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _access(token: str) -> AccessToken | None:
    """The link's token, if it still belongs to one of the dossier's recipients."""
    if not 20 <= len(token) <= 100:
        return None
    # The token names its organisation: looking it up crosses tenants by design.
    with scopes_disabled():
        access = (
            AccessToken.objects.select_related("dossier__profile", "recipient", "organization")
            .filter(token_hash=hash_token(token))
            .first()
        )
    if access is None or access.daily_request_id is not None:
        # The link of a day: its page shows each of its requests the person still answers.
        return access
    if not is_recipient(access.dossier, access.recipient):
        return None  # a former representative, or an archived person
    return access


def _refused(request: HttpRequest) -> HttpResponse:
    """Only failed look-ups are slowed down: a valid link is always served, so nobody can
    lock clients out by spending the limit of an address they share (a proxy's)."""
    if _too_many_bad_tokens(request):
        response = _page(request, "message", {"kind": "throttled"}, status=429)
        response["Retry-After"] = str(BAD_TOKENS_WINDOW)
        return response
    _count_bad_token(request)
    return _page(request, "message", {"kind": "invalid"}, status=404)


@require_http_methods(["GET", "POST"])
# A submit opens, drafts and submits: the counts of the organisation's dossiers are renewed
# once, when it is done.
@versions.renewed_once()
def dossier_page(request: HttpRequest, token: str) -> HttpResponse:
    access = _request_access(request, token)
    if access is None:
        return _refused(request)
    if access.replaced_at is not None:
        replaced = {"kind": "replaced", "organization": access.organization}
        if not request.COOKIES.get("django_language"):
            with translation.override(access.recipient.language):
                return _page(request, "message", replaced, status=410)
        return _page(request, "message", replaced, status=410)

    organization = access.organization
    on_behalf_by = None
    if access.issued_to_id is not None:
        # A link staff opened for themselves works for them only, while they are a member
        # and for a working day, and what they submit is recorded as theirs.
        if not _staff_may_use(request, access):
            return _page(request, "message", {"kind": "invalid"}, status=404)
        on_behalf_by = request.user
    with (
        scope(organization=organization),
        timezone.override(organization.tzinfo),
        style_of(organization),
    ):
        if not request.COOKIES.get("django_language"):
            translation.activate(access.recipient.language)
            request.LANGUAGE_CODE = access.recipient.language
        if access.daily_request_id is not None and on_behalf_by is None:
            return _daily_page(request, access, token)
        dossier = follow_supersession(access.dossier)
        context: dict[str, Any] = {
            "organization": organization,
            "dossier": dossier,
            "token": token,
            "on_behalf_of": access.recipient if on_behalf_by else None,
        }
        AccessToken.objects.filter(pk=access.pk).update(last_used_at=timezone.now())
        opening = on_behalf_by is None and dossier.status == Dossier.Status.OPEN
        # A page posted to an open dossier is marked opened by its draft, in the same UPDATE
        # (`save_draft`), or below when nothing was saved.
        if opening and not (request.method == "POST" and dossier.is_open):
            mark_opened(dossier)
            opening = False
        items = list(dossier.items.select_related("field", "initial_document", "written_document"))
        if dossier.status in (
            Dossier.Status.SUBMITTED,
            Dossier.Status.TO_REVIEW,
            Dossier.Status.APPROVED,
        ):
            context["rows"] = _summary(items)
            return _page(request, "summary", context)
        if not dossier.is_open:
            return _page(request, "message", {**context, "kind": "expired"}, status=410)
        final = request.POST.get("action") == "submit"
        form = PortalForm(
            request.POST or None,
            request.FILES or None,
            dossier=dossier,
            items=items,
            editable=editable_items(dossier, items),
            final=final,
        )
        if request.method == "POST":
            if form.is_valid():
                error = _save(dossier, form, access, final, on_behalf_by)
                if opening and error is not None:
                    mark_opened(dossier)  # a no-op when the draft was kept
                if error is None:
                    if final and on_behalf_by is not None:
                        messages.success(
                            request,
                            _("The answers were submitted on behalf of %(name)s.")
                            % {"name": access.recipient.display_name},
                        )
                        return redirect(
                            "dossiers:detail", org_slug=organization.slug, dossier_uuid=dossier.uuid
                        )
                    # A submission leads to the thank-you page, which says so once.
                    if not final:
                        messages.success(
                            request, _("Your draft was saved. You can come back to it later.")
                        )
                    return redirect(request.path)
                form.add_error(None, error)
            else:
                if opening:
                    mark_opened(dossier)
                _keep_chosen_files(dossier, form, access, on_behalf_by)
                form.add_error(
                    None, _("Nothing was sent yet. Please correct the fields marked below.")
                )
        context["form"] = form
        return _page(request, "form", context, status=200)


# What a request of the day shows once answered: its answers, not a form.
ANSWERED = (Dossier.Status.SUBMITTED, Dossier.Status.TO_REVIEW, Dossier.Status.APPROVED)


def _daily_page(request: HttpRequest, access: AccessToken, token: str) -> HttpResponse:
    """The link of a recipient's day: each request under its title, one form. Submitting
    sends each request that is complete, as its own dossier; one with something to correct
    comes back with its errors and everything typed, the others are sent all the same."""
    organization = access.organization
    assert access.daily_request is not None  # the caller checked
    AccessToken.objects.filter(pk=access.pk).update(last_used_at=timezone.now())
    dossiers = daily.open_requests(access.daily_request, access.recipient)
    if not dossiers:
        return _refused(request)  # none is theirs any more: a former representative
    if not any(d.is_open or d.status in ANSWERED for d in dossiers):
        return _page(request, "message", {"organization": organization, "kind": "expired"}, 410)
    final = request.POST.get("action") == "submit"
    posted = request.method == "POST"
    sections: list[dict[str, Any]] = []
    failed = False
    for dossier in dossiers:
        if dossier.status == Dossier.Status.OPEN:
            mark_opened(dossier)
        items = list(dossier.items.select_related("field", "initial_document", "written_document"))
        section: dict[str, Any] = {"dossier": dossier, "form": None, "rows": None}
        sections.append(section)
        if dossier.status in ANSWERED:
            section["rows"] = _summary(items)
            continue
        if not dossier.is_open:
            continue
        form = PortalForm(
            request.POST if posted else None,
            request.FILES if posted else None,
            dossier=dossier,
            items=items,
            editable=editable_items(dossier, items),
            final=final,
            # Stable whatever else the day holds, so that answers never go to another request.
            prefix=dossier.uuid.hex,
        )
        section["form"] = form
        if not posted:
            continue
        if not form.is_valid():
            _keep_chosen_files(dossier, form, access, None)
            form.add_error(
                None, _("Nothing was sent for this request yet. Please correct the fields marked.")
            )
            failed = True
            continue
        error = _save(dossier, form, access, final, None)
        if error is not None:
            form.add_error(None, error)
            failed = True
        elif final:
            dossier.refresh_from_db()
            section["form"] = None
            section["rows"] = _summary(
                list(dossier.items.select_related("field", "initial_document", "written_document"))
            )
    if posted and not failed:
        if final:
            messages.success(request, _("Thank you: your answers were sent."))
        else:
            messages.success(request, _("Your draft was saved. You can come back to it later."))
        return redirect(request.path)
    context = {
        "organization": organization,
        "token": token,
        "sections": sections,
        "open": any(section["form"] is not None for section in sections),
    }
    return _page(request, "daily", context)


STAFF_LINK_LIFETIME = dt.timedelta(hours=12)


def _staff_may_use(request: HttpRequest, access: AccessToken) -> bool:
    if access.issued_to_id is None or request.user.pk != access.issued_to_id:
        return False
    if access.created_at < timezone.now() - STAFF_LINK_LIFETIME:
        return False
    with scope(organization=access.organization):
        return Membership.objects.filter(
            organization=access.organization, user_id=access.issued_to_id
        ).exists()


def _save(
    dossier: Dossier, form: PortalForm, access: AccessToken, final: bool, on_behalf_by: Any
) -> str | None:
    try:
        files = store_uploads(form.uploads())
    except StorageUnavailable:
        return _("Your files could not be stored just now. Nothing was lost: please try again.")
    stored = {
        item_id: (file.key, file.name, file.content_type, file.size)
        for item_id, file in files.items()
    }
    actor = Actor.of_client(access.recipient, on_behalf_by=on_behalf_by)
    draft = Draft(
        answers=form.answers(),
        uploads=stored,
        confirmations=form.confirmations(),
        removals=form.removals(),
    )
    try:
        if final:
            # The draft first, in the same transaction: if the write-back fails, the
            # client's answers and files are kept.
            actions.submit(dossier, via=access.sent_to, actor=actor, draft=draft)
        else:
            actions.save_draft(
                dossier,
                answers=draft.answers,
                uploads=draft.uploads,
                confirmations=draft.confirmations,
                removals=draft.removals,
                via=access.sent_to,
                actor=actor,
            )
    except Closed:
        delete_stored(files.values())
        return _("This request is closed and can no longer be changed.")
    except NotAnswered as missing:
        _show_chosen(form, files)
        for item in missing.items:
            form.add_error(
                f"f_{item.field.uuid.hex}",
                _("This item still needs a fresh answer. Your other answers were kept."),
            )
        return _("Nothing was sent yet. Please answer the items marked below.")
    except WriteBackError:
        _show_chosen(form, files)
        return _(
            "Your answers could not be recorded just now. They were kept as a draft: "
            "please try to submit again in a moment."
        )
    _show_chosen(form, files)
    return None


def _keep_chosen_files(
    dossier: Dossier, form: PortalForm, access: AccessToken, on_behalf_by: Any
) -> None:
    """The valid files of a page that comes back with an error elsewhere are kept as draft
    uploads and shown as chosen: on a phone, finding and picking them again is the hard
    part. Nothing else of the page is saved; an invalid file is not kept."""
    uploads = form.uploads()
    if not uploads:
        return
    try:
        files = store_uploads(uploads)
    except StorageUnavailable:
        return  # the page says what to correct; the client chooses the file again
    try:
        actions.save_draft(
            dossier,
            answers={},
            uploads={pk: (f.key, f.name, f.content_type, f.size) for pk, f in files.items()},
            via=access.sent_to,
            actor=Actor.of_client(access.recipient, on_behalf_by=on_behalf_by),
        )
    except WriteBackError:
        delete_stored(files.values())
        return
    _show_chosen(form, files)


def _show_chosen(form: PortalForm, files: dict[int, Any]) -> None:
    """The page that comes back names each file just kept as the item's chosen file."""
    for name, item in form.items.items():
        if item.pk in files:
            form.fields[name].widget.current_document = {
                "name": files[item.pk].name,
                "size": files[item.pk].size,
            }


@require_http_methods(["GET"])
def document_on_file(request: HttpRequest, token: str, field_uuid: Any) -> HttpResponseBase:
    """The file on file for an item of the client's dossier, so they can check it, under
    the page's rules: a replaced link or another member's staff link reaches nothing."""
    access = _access(token)
    if (
        access is None
        or access.replaced_at is not None
        or (access.issued_to_id and not _staff_may_use(request, access))
    ):
        return _refused(request)
    with scope(organization=access.organization):
        dossiers = (
            daily.open_requests(access.daily_request, access.recipient)
            if access.daily_request is not None
            else [follow_supersession(access.dossier)]
        )
        item = (
            DossierItem.objects.filter(dossier__in=dossiers, field__uuid=field_uuid)
            .select_related("initial_document", "dossier")
            .first()
        )
        dossier = item.dossier if item is not None else None
        if item is None or dossier is None or item.initial_document is None or not dossier.is_open:
            raise Http404
        return serve_document(item.initial_document)


def _summary(items: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        field = item.field
        if item.removing:
            shown = _("No longer applies — you asked to remove it")
        elif field.is_document:
            if item.written_document:
                shown = item.written_document.name
            elif item.upload:
                shown = item.upload_name
            else:
                shown = item.initial_document.name if item.initial_document else ""
        else:
            value = item.answer if item.answered else item.initial_value
            shown = fieldtypes.display(field, value)
        rows.append({"field": field, "value": shown})
    return rows
