from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest


def tenant(request: HttpRequest) -> dict[str, object]:
    organization = getattr(request, "organization", None)
    membership = getattr(request, "membership", None)
    user = request.user
    # Only an account has memberships (an anonymous visitor is no User).
    if organization is None or not isinstance(user, User):
        return {}
    return {
        "organization": organization,
        "membership": membership,
        "is_org_admin": membership is not None and membership.is_admin,
        # The switcher's list, read with the membership itself (organizations.middleware).
        "other_memberships": getattr(request, "other_memberships", []),
    }
