"""What the organisations app reads in more than one place: an account's memberships and
its second factor."""

from __future__ import annotations

from typing import Any

from django_otp import devices_for_user
from django_otp_webauthn.models import WebAuthnCredential
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


def verified_by_second_factor(user: Any) -> bool:
    """Whether this session's user logged in with their second factor. django-otp's
    middleware gives the request's user `is_verified`; a user without it did not."""
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified()) if callable(is_verified) else False


def passkeys_of(user: Any) -> list[WebAuthnCredential]:
    """The account's passkeys, the oldest first."""
    return list(WebAuthnCredential.objects.filter(user=user).order_by("created_at", "pk"))


def has_second_factor(user: Any) -> bool:
    """Whether the account has a confirmed second factor of any kind: an authenticator app
    (TOTP) or a passkey. Such an account never logs in on its password alone."""
    return any(True for _device in devices_for_user(user, confirmed=True))
