"""The request of a back-office page, as the tenant middleware leaves it."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest

from organizations.models import Membership, Organization


class AuthenticatedRequest(HttpRequest):
    """A request to a view behind `login_required`: the user is logged in."""

    user: User


class OrganizationRequest(HttpRequest):
    """A request under /o/<slug>/: its organisation and the user's membership are known."""

    organization: Organization
    membership: Membership
    # The user's other memberships, for the layout's switcher (organizations.middleware).
    other_memberships: list[Membership]
    # The tenant middleware lets only members through, so the user is always logged in.
    user: User
