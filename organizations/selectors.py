"""What the organisations app reads in more than one place: an account's memberships."""

from __future__ import annotations

from typing import Any

from django_scopes import scopes_disabled

from organizations.models import Membership


def memberships_of(user: Any) -> list[Membership]:
    """Every membership of an account, with its organisation: an account belongs to no
    organisation alone, so this reads across tenants by design."""
    with scopes_disabled():
        return list(Membership.objects.filter(user=user).select_related("organization"))


def organizations_requiring_two_factor(user: Any) -> list[str]:
    """The names of the account's organisations that require a second factor."""
    with scopes_disabled():
        return list(
            Membership.objects.filter(user=user, organization__require_two_factor=True)
            .values_list("organization__name", flat=True)
            .order_by("organization__name")
        )
