"""Opens the tenant's scope for every back-office URL (/o/<org_slug>/…).

The scope wraps the whole response, rendering included, so a lazy queryset evaluated in a
template is scoped too. Outside it, a query of tenant data raises.
"""

from __future__ import annotations

from collections.abc import Callable
from types import EllipsisType
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django_scopes import scope, scopes_disabled

from organizations import sso
from organizations.display import style_of
from organizations.models import Membership, Organization
from organizations.selectors import verified_by_second_factor

# The cookie naming the organisation a member opened last.
LAST_ORGANIZATION = "last_organization"

# Small values about each organisation that every page reads (the apps below register
# them, e.g. the version its dossier counts are cached under: dossiers.apps), read as
# annotations of the memberships' one query rather than one query each. Each expression
# refers to the membership's organisation as OuterRef("organization_id").
MEMBERSHIP_ANNOTATIONS: dict[str, Any] = {}
# A registered value not read with the request (it has no membership): the caller reads it.
UNREAD: EllipsisType = ...


def membership_value(request: Any, name: str) -> Any:
    """The value registered as `name`, read with the request's membership; UNREAD without
    one (None is a value: e.g. no version yet)."""
    return getattr(getattr(request, "membership", None), name, UNREAD)


class TenantMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Views under /o/<slug>/ receive it as an OrganizationRequest (organizations.http).
        request.organization = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        request.other_memberships = []  # type: ignore[attr-defined]
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        slug = match.kwargs.get("org_slug")
        if slug is None:
            return self.get_response(request)
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        # An organisation the user does not belong to does not exist for them: 404, not 403.
        # All the user's memberships in one query: this one, and the others that the layout's
        # switcher lists (organizations.context_processors), which cross tenants by design.
        # The provider comes in the same query (a join), for single sign-on.
        # The values registered are read for every membership, each an index lookup: a
        # CASE limiting them to this organisation cost every page more to build (a fifth of
        # the query's compilation) than it saves any but a member of hundreds.
        with scopes_disabled():
            memberships = list(
                Membership.objects.select_related("organization", "organization__sso_provider")
                .filter(user=request.user)
                .annotate(**MEMBERSHIP_ANNOTATIONS)
                .order_by("organization__name", "pk")
            )
        membership = next((m for m in memberships if m.organization.slug == slug), None)
        if membership is None:
            raise Http404
        request.other_memberships = [m for m in memberships if m is not membership]  # type: ignore[attr-defined]
        organization: Organization = membership.organization
        if not sso.reaches(request, organization):
            # Signed in through another organisation's provider: this one wants the password.
            return render(request, "registration/sso_elsewhere.html", status=403)
        if sso.needs_sign_in(request, organization):
            # The organisation requires its identity provider: through it, then back here.
            return redirect(
                f"{reverse('sso_sign_in', kwargs={'organization': slug})}"
                f"?{urlencode({'next': request.get_full_path()})}"
            )
        if (
            organization.require_two_factor
            and not verified_by_second_factor(request.user)
            and not sso.counts_as_second_factor(request, organization)
        ):
            # Setting it up, or entering a code for this session, is the way in.
            return redirect(
                f"{reverse('two_factor')}?{urlencode({'next': request.get_full_path()})}"
            )
        request.organization = organization  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        timezone.activate(organization.tzinfo)
        try:
            with scope(organization=organization), style_of(organization):
                response = self.get_response(request)
        finally:
            timezone.deactivate()
        # Where "/" leads next time, across sign-ins (organizations.views.home). Only the
        # slug, which names nothing a member of it does not know; home checks membership.
        if request.COOKIES.get(LAST_ORGANIZATION) != organization.slug:
            response.set_cookie(
                LAST_ORGANIZATION,
                organization.slug,
                max_age=365 * 24 * 3600,
                httponly=True,
                samesite="Lax",
                secure=request.is_secure(),
            )
        return response
