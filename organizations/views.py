from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_scopes import scope, scopes_disabled

from organizations import actions, integrity
from organizations.actors import Actor
from organizations.csvexport import csv_lines
from organizations.decorators import admin_required
from organizations.display import style_of
from organizations.form_html import form_html
from organizations.forms import (
    AddMemberForm,
    AuditFilterForm,
    NewAccountForm,
    NoticesForm,
    OrganizationForm,
    RetryAddressForm,
)
from organizations.http import AuthenticatedRequest, OrganizationRequest
from organizations.keyset import keyset_page
from organizations.lookups import get_for_org
from organizations.members import (
    InvitationUnusable,
    account_exists,
    create_account,
    find_invitation,
    latest_message_status,
)
from organizations.middleware import LAST_ORGANIZATION
from organizations.models import AuditEntry, Invitation, Membership


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """Sends a user to the organisation they opened last, or else to the first they joined
    (the top bar switches between them); one without any reads why."""
    with scopes_disabled():
        memberships = list(
            Membership.objects.filter(user=request.user)
            .select_related("organization")
            .order_by("created_at", "pk")
        )
    if memberships:
        slugs = [m.organization.slug for m in memberships]
        last = request.COOKIES.get(LAST_ORGANIZATION)
        return redirect("org_home", org_slug=last if last in slugs else slugs[0])
    return render(request, "organizations/choose.html", {"memberships": memberships})


@require_http_methods(["GET", "POST"])
def my_notices(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    """Each member chooses the e-mails they get about submissions in this organisation."""
    membership = request.membership
    form = NoticesForm(request.POST or None, instance=membership)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your e-mail notices were saved."))
        return redirect("my_notices", org_slug=org_slug)
    return render(request, "organizations/notices.html", {"form": form})


@admin_required
@require_http_methods(["GET", "POST"])
def organization_settings(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    # A copy: the form sets what was typed on its instance, which the page's header shows
    # and which stays as it was when the action refuses it.
    form = OrganizationForm(request.POST or None, instance=copy.copy(request.organization))
    if request.method == "POST" and form.is_valid():
        try:
            actions.update_settings(
                request.organization, actor=Actor.member(request.user), **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The organisation's settings were saved."))
            return redirect("organization_settings", org_slug=org_slug)
    return _settings_page(request, form, AddMemberForm())


def _settings_page(
    request: OrganizationRequest,
    form: OrganizationForm,
    member_form: AddMemberForm,
    status: int = 200,
) -> HttpResponse:
    members = Membership.objects.filter(organization=request.organization).select_related("user")
    # The address the e-mails come from: its domain is the one SPF, DKIM and DMARC vouch for.
    sending_name, sending_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return render(
        request,
        "organizations/settings.html",
        {
            "form": form,
            "member_form": member_form,
            # The two forms as templates/includes/form.html writes them.
            "form_html": form_html(form),
            "member_form_html": form_html(member_form),
            "members": members.order_by("user__last_name", "user__email"),
            "invitations": Invitation.objects.filter(
                organization=request.organization,
                accepted_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            # Whether its e-mail went out: staff see a refused address where they look.
            .annotate(email_status=latest_message_status())
            .order_by("email"),
            "roles": Membership.Role.choices,
            "sending_name": sending_name or sending_address,
            "sending_address": sending_address,
            "sending_domain": sending_address.rpartition("@")[2],
        },
        status=status,
    )


@admin_required
@require_POST
def member_add(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    form = AddMemberForm(request.POST)
    if form.is_valid():
        try:
            invitation = actions.invite_member(
                request.organization, actor=Actor.member(request.user), **form.cleaned_data
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            # The same words whether or not the address has an account anywhere.
            messages.success(
                request,
                _("An invitation was sent to %(email)s. They join once they accept it.")
                % {"email": invitation.email},
            )
            return redirect("organization_settings", org_slug=org_slug)
    return _settings_page(request, OrganizationForm(instance=request.organization), form)


@admin_required
@require_POST
def invitation_cancel(
    request: OrganizationRequest, org_slug: str, invitation_uuid: object
) -> HttpResponse:
    invitation: Invitation = get_for_org(
        request, Invitation.objects.filter(accepted_at__isnull=True), uuid=invitation_uuid
    )
    try:
        actions.cancel_invitation(invitation, actor=Actor.member(request.user))
    except InvitationUnusable:
        # Accepted or cancelled since the page showed it.
        raise Http404 from None
    messages.success(
        request,
        _("The invitation to %(email)s was cancelled.") % {"email": invitation.email},
    )
    return redirect("organization_settings", org_slug=org_slug)


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link of an invitation: joined while logged in, or with a new account."""
    invitation = find_invitation(token)
    if invitation is None:
        return _invitation_page(request, "invalid", status=404)
    # Not "organization": the base template would take it for the current tenant.
    context: dict[str, Any] = {"invitation": invitation, "invited_to": invitation.organization}
    user = request.user
    if user.is_authenticated:
        if not actions.addressed_to(invitation, user):
            return _invitation_page(request, "other_account", context, status=403)
        if request.method == "POST":
            return _join(request, invitation, user)
        return _invitation_page(request, "confirm", context)
    if account_exists(invitation.email):
        messages.info(request, _("Log in to accept the invitation."))
        return redirect_to_login(request.get_full_path())
    form = NewAccountForm(
        request.POST or None,
        email=invitation.email,
        initial={"first_name": invitation.first_name, "last_name": invitation.last_name},
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = create_account(
                invitation,
                form.cleaned_data["first_name"],
                form.cleaned_data["last_name"],
                form.cleaned_data["password1"],
            )
        except InvitationUnusable:
            return redirect_to_login(request.get_full_path())
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return _join(request, invitation, user)
    return _invitation_page(request, "new_account", {**context, "form": form})


def _join(request: HttpRequest, invitation: Invitation, user: Any) -> HttpResponse:
    try:
        actions.accept_invitation(invitation, actor=Actor.member(user))
    except InvitationUnusable:
        return _invitation_page(request, "invalid", status=404)
    messages.success(
        request,
        _("Welcome to %(organization)s.") % {"organization": invitation.organization.name},
    )
    return redirect("org_home", org_slug=invitation.organization.slug)


def _invitation_page(
    request: HttpRequest, kind: str, context: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    response = render(
        request, "organizations/invitation.html", {**(context or {}), "kind": kind}, status=status
    )
    response["Cache-Control"] = "no-store"
    return response


@admin_required
@require_POST
def member_role(
    request: OrganizationRequest, org_slug: str, membership_uuid: object
) -> HttpResponse:
    membership: Membership = get_for_org(
        request, Membership.objects.select_related("user"), uuid=membership_uuid
    )
    try:
        actions.change_role(
            membership, actor=Actor.member(request.user), role=request.POST.get("role", "")
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The role was changed."))
    return redirect("organization_settings", org_slug=org_slug)


@admin_required
@require_POST
def member_remove(
    request: OrganizationRequest, org_slug: str, membership_uuid: object
) -> HttpResponse:
    membership: Membership = get_for_org(
        request, Membership.objects.select_related("user"), uuid=membership_uuid
    )
    try:
        actions.remove_member(membership, actor=Actor.member(request.user))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            _("%(email)s no longer belongs to the organisation.")
            % {"email": membership.user.email},
        )
    return redirect("organization_settings", org_slug=org_slug)


@admin_required
def audit_log(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, organization=request.organization)
    entries = form.entries(AuditEntry.objects.filter(organization=request.organization))
    # Keyset pages (organizations.keyset): ten years of the log read no more than a page.
    page = keyset_page(entries.select_related("user"), request.GET, moment="at")
    query = request.GET.copy()
    for name in ("page", "before", "after"):
        query.pop(name, None)
    return render(
        request,
        "organizations/audit_log.html",
        {"page": page, "form": form, "query": query.urlencode()},
    )


@admin_required
def audit_integrity(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    """Whether the organisation's log is as it was written, and where it breaks."""
    report = integrity.verify(request.organization)
    return render(
        request,
        "organizations/audit_integrity.html",
        {"report": report, "head": integrity.head(request.organization)},
    )


@admin_required
def audit_export(request: OrganizationRequest, org_slug: str) -> StreamingHttpResponse:
    """The filtered log as CSV, the same query as the page; the export is itself logged."""
    form = AuditFilterForm(request.GET or None, organization=request.organization)
    organization = request.organization
    entries = actions.export_audit_log(
        organization,
        actor=Actor.member(request.user),
        entries=form.entries(AuditEntry.objects.filter(organization=organization)),
        filters=form.describe(),
    )
    language, zone = translation.get_language(), timezone.get_current_timezone()

    def rows() -> Iterator[list[object]]:
        # Streamed after the view and its middleware are done: the tenant's scope, the
        # reader's language, the zone and the date style are set again around the rows.
        with (
            scope(organization=organization),
            translation.override(language),
            timezone.override(zone),
            style_of(organization),
        ):
            for entry in entries.iterator(chunk_size=2000):
                yield [
                    timezone.localtime(entry.at).isoformat(),
                    entry.user.get_username() if entry.user else "",
                    entry.action,
                    entry.action_label,
                    entry.target,
                    json.dumps(entry.details, ensure_ascii=False, sort_keys=True),
                    entry.who,
                    entry.description,
                ]

    # The first six columns are those of before, for the spreadsheets built on them; the
    # actor and the details in words come after.
    header = [
        _("When"),
        _("Who"),
        _("Action"),
        _("Description"),
        _("Object"),
        _("Details"),
        _("By"),
        _("Details (readable)"),
    ]
    response = StreamingHttpResponse(
        csv_lines(itertools.chain([[str(h) for h in header]], rows())),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="audit-{org_slug}-{stamp}.csv"'
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A stale or cookieless form: a clear page in the reader's language, not Django's."""
    return render(request, "403_csrf.html", status=403)


def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers and container health checks: the process answers, nothing more."""
    return HttpResponse("ok", content_type="text/plain")


@require_POST
def retry_address(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    """ "Try again" on a failing address: back to the page it was pressed on, saying what
    came of it there."""
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) or not back.startswith(f"/o/{org_slug}/"):
        back = reverse("org_home", kwargs={"org_slug": org_slug})
    form = RetryAddressForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter a valid e-mail address."))
        return redirect(back)
    try:
        actions.retry_address(
            request.organization,
            actor=Actor.member(request.user),
            address=form.cleaned_data["address"],
            confirmed=form.cleaned_data["confirmed"],
        )
    except ValidationError as error:
        for text in error.messages:
            messages.error(request, text)
    else:
        messages.success(
            request,
            _("E-mails to %(address)s will be sent again, from the next one on.")
            % {"address": form.cleaned_data["address"]},
        )
    return redirect(back)
