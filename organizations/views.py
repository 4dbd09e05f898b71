from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_scopes import scopes_disabled

from organizations.decorators import admin_required
from organizations.forms import AddMemberForm, OrganizationForm
from organizations.lookups import get_for_org
from organizations.members import LastAdmin, add_member, change_role, remove_member, send_invitation
from organizations.models import AuditEntry, Membership, audit
from outbox.models import Message


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Sends a user to their organisation, or lets them choose among several."""
    with scopes_disabled():
        memberships = list(
            Membership.objects.filter(user=request.user)
            .select_related("organization")
            .order_by("organization__name")
        )
    if len(memberships) == 1:
        return redirect("org_home", org_slug=memberships[0].organization.slug)
    return render(request, "organizations/choose.html", {"memberships": memberships})


def org_home(request: HttpRequest, org_slug: str) -> HttpResponse:
    # The first page of the back office is the contact list; named by URL, not imported.
    return redirect("profiles:list", org_slug=org_slug, url_kind="contacts")


@admin_required
@require_http_methods(["GET", "POST"])
def organization_settings(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = OrganizationForm(request.POST or None, instance=request.organization)
    if request.method == "POST" and form.is_valid():
        form.save()
        audit(
            request,
            AuditEntry.Action.ORGANIZATION_UPDATED,
            request.organization,
            changed=", ".join(form.changed_data),
        )
        messages.success(request, _("The organisation's settings were saved."))
        return redirect("organization_settings", org_slug=org_slug)
    return _settings_page(request, form, AddMemberForm(organization=request.organization))


def _settings_page(
    request: HttpRequest, form: OrganizationForm, member_form: AddMemberForm, status: int = 200
) -> HttpResponse:
    members = (
        Membership.objects.filter(organization=request.organization)
        .select_related("user")
        .annotate(
            invitation_status=Subquery(
                Message.objects.filter(membership=OuterRef("pk"))
                .order_by("-created_at", "-id")
                .values("status")[:1]
            )
        )
    )
    return render(
        request,
        "organizations/settings.html",
        {
            "form": form,
            "member_form": member_form,
            "members": members.order_by("user__last_name", "user__email"),
            "roles": Membership.Role.choices,
        },
        status=status,
    )


@admin_required
@require_POST
def member_add(request: HttpRequest, org_slug: str) -> HttpResponse:
    form = AddMemberForm(request.POST, organization=request.organization)
    if not form.is_valid():
        return _settings_page(request, OrganizationForm(instance=request.organization), form)
    # The invitation is an outbox row written with the membership: SMTP down delays it.
    with transaction.atomic():
        membership, created = add_member(
            request.organization,
            form.cleaned_data["email"],
            form.cleaned_data["role"],
            form.cleaned_data["first_name"],
            form.cleaned_data["last_name"],
        )
        audit(
            request,
            AuditEntry.Action.MEMBER_ADDED,
            membership.user.email,
            role=membership.get_role_display(),
        )
        if created:
            send_invitation(membership)
    if created:
        messages.success(
            request,
            _("%(email)s was added and invited by e-mail to choose a password.")
            % {"email": membership.user.email},
        )
    else:
        messages.success(request, _("%(email)s was added.") % {"email": membership.user.email})
    return redirect("organization_settings", org_slug=org_slug)


@admin_required
@require_POST
def member_role(request: HttpRequest, org_slug: str, membership_uuid: object) -> HttpResponse:
    membership = get_for_org(
        request, Membership.objects.select_related("user"), uuid=membership_uuid
    )
    role = request.POST.get("role")
    if role not in Membership.Role.values:
        messages.error(request, _("Choose a role."))
    else:
        try:
            change_role(membership, role)
        except LastAdmin:
            messages.error(request, _("The organisation needs at least one administrator."))
        else:
            audit(
                request,
                AuditEntry.Action.MEMBER_ROLE_CHANGED,
                membership.user.email,
                role=membership.get_role_display(),
            )
            messages.success(request, _("The role was changed."))
    return redirect("organization_settings", org_slug=org_slug)


@admin_required
@require_POST
def member_remove(request: HttpRequest, org_slug: str, membership_uuid: object) -> HttpResponse:
    membership = get_for_org(
        request, Membership.objects.select_related("user"), uuid=membership_uuid
    )
    try:
        remove_member(membership)
    except LastAdmin:
        messages.error(request, _("The organisation needs at least one administrator."))
    else:
        audit(request, AuditEntry.Action.MEMBER_REMOVED, membership.user.email)
        messages.success(
            request,
            _("%(email)s no longer belongs to the organisation.")
            % {"email": membership.user.email},
        )
    return redirect("organization_settings", org_slug=org_slug)


@admin_required
def audit_log(request: HttpRequest, org_slug: str) -> HttpResponse:
    entries = AuditEntry.objects.filter(organization=request.organization).select_related("user")
    action = request.GET.get("action", "")
    if action in AuditEntry.Action.values:
        entries = entries.filter(action=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "organizations/audit_log.html",
        {"page": page, "actions": AuditEntry.Action.choices, "action": action},
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A stale or cookieless form: a clear page in the reader's language, not Django's."""
    return render(request, "403_csrf.html", status=403)


def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers and container health checks: the process answers, nothing more."""
    return HttpResponse("ok", content_type="text/plain")
