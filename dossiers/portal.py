"""The client portal: reached from an e-mailed link, no account, often on a phone."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_scopes import scope, scopes_disabled

from dossiers.forms import PortalForm
from dossiers.models import AccessToken, Dossier, hash_token
from dossiers.opening import follow_supersession
from dossiers.submission import WriteBackError, save_draft, submit
from profiles import fieldtypes
from profiles.services import store_file
from profiles.storage import forget
from profiles.uploads import clean_filename

logger = logging.getLogger(__name__)

BAD_TOKENS_ALLOWED = 20
BAD_TOKENS_WINDOW = 600  # seconds


def _bad_token_key(request: HttpRequest) -> str:
    return f"portal:bad-token:{request.META.get('REMOTE_ADDR', '')}"


def _too_many_bad_tokens(request: HttpRequest) -> bool:
    return cache.get(_bad_token_key(request), 0) >= BAD_TOKENS_ALLOWED


def _count_bad_token(request: HttpRequest) -> None:
    key = _bad_token_key(request)
    if not cache.add(key, 1, BAD_TOKENS_WINDOW):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, BAD_TOKENS_WINDOW)


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200):
    response = render(request, f"portal/{template}.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
def dossier_page(request: HttpRequest, token: str) -> HttpResponse:
    if _too_many_bad_tokens(request):
        response = _page(request, "message", {"kind": "throttled"}, status=429)
        response["Retry-After"] = str(BAD_TOKENS_WINDOW)
        return response
    access = None
    if 20 <= len(token) <= 100:
        # The token names its organisation: looking it up crosses tenants by design.
        with scopes_disabled():
            access = (
                AccessToken.objects.select_related("dossier", "recipient", "organization")
                .filter(token_hash=hash_token(token))
                .first()
            )
    if access is None:
        _count_bad_token(request)
        return _page(request, "message", {"kind": "invalid"}, status=404)

    organization = access.organization
    with scope(organization=organization), timezone.override(organization.tzinfo):
        if not request.COOKIES.get("django_language"):
            translation.activate(access.recipient.language)
            request.LANGUAGE_CODE = access.recipient.language
        dossier = follow_supersession(access.dossier)
        context: dict[str, Any] = {"organization": organization, "dossier": dossier}
        AccessToken.objects.filter(pk=access.pk).update(last_used_at=timezone.now())
        items = list(dossier.items.select_related("field", "initial_document", "written_document"))
        if dossier.status == Dossier.Status.SUBMITTED:
            context["rows"] = _summary(items)
            return _page(request, "summary", context)
        if not dossier.is_open:
            return _page(request, "message", {**context, "kind": "expired"}, status=410)
        final = request.POST.get("action") == "submit"
        form = PortalForm(request.POST or None, request.FILES or None, items=items, final=final)
        if request.method == "POST":
            if form.is_valid():
                error = _save(dossier, form, access, final)
                if error is None:
                    if final:
                        messages.success(request, _("Thank you: your answers were sent."))
                    else:
                        messages.success(
                            request, _("Your draft was saved. You can come back to it later.")
                        )
                    return redirect(request.path)
                form.add_error(None, error)
            else:
                form.add_error(
                    None, _("Nothing was sent yet. Please correct the fields marked below.")
                )
        context["form"] = form
        return _page(request, "form", context, status=200)


def _save(dossier: Dossier, form: PortalForm, access: AccessToken, final: bool) -> str | None:
    stored = {}
    try:
        for item_id, upload in form.uploads().items():
            name = clean_filename(upload.name)
            file = store_file(upload, name=name, content_type=upload.sniffed_content_type)
            stored[item_id] = (file.key, file.name, file.content_type, file.size)
    except Exception:
        logger.exception("Storing an upload of dossier %s failed", dossier.pk)
        forget(key for key, *_rest in stored.values())
        return _("Your files could not be stored just now. Nothing was lost: please try again.")
    try:
        # The draft first: if the write-back fails, the client's answers and files are kept.
        save_draft(dossier, form.answers(), stored)
    except WriteBackError:
        forget(key for key, *_rest in stored.values())
        return _("This request is closed and can no longer be changed.")
    if final:
        try:
            submit(dossier, form.answers(), access.recipient)
        except WriteBackError:
            return _(
                "Your answers could not be recorded just now. They were kept as a draft: "
                "please try to submit again in a moment."
            )
    return None


def _summary(items: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        field = item.field
        if field.is_document:
            document = item.written_document or item.initial_document
            shown = document.name if document else ""
        else:
            value = item.answer if item.answered else item.initial_value
            shown = fieldtypes.display(field, value)
        rows.append({"field": field, "value": shown})
    return rows
