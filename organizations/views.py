from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods
from django_scopes import scopes_disabled

from organizations.decorators import admin_required
from organizations.forms import OrganizationForm
from organizations.models import AuditEntry, Membership, audit


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
    members = Membership.objects.select_related("user").order_by("user__username")
    return render(request, "organizations/settings.html", {"form": form, "members": members})


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
