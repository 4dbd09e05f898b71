from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject
from django_scopes import scopes_disabled

from organizations.models import Membership


def tenant(request: HttpRequest) -> dict[str, object]:
    organization = getattr(request, "organization", None)
    membership = getattr(request, "membership", None)
    user = request.user
    # Only an account has memberships (an anonymous visitor is no User).
    if organization is None or not isinstance(user, User):
        return {}

    def other_memberships() -> list[Membership]:
        # The switcher lists the user's own organisations, which cross tenants by design.
        with scopes_disabled():
            return list(
                Membership.objects.filter(user=user)
                .exclude(organization=organization)
                .select_related("organization")
                .order_by("organization__name")
            )

    return {
        "organization": organization,
        "membership": membership,
        "is_org_admin": membership is not None and membership.is_admin,
        # Lazy and evaluated once, however often the layout reads it.
        "other_memberships": SimpleLazyObject(other_memberships),
    }
