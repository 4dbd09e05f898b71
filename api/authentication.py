"""Who calls the API: an organisation's key, sent as `Authorization: Bearer <key>`."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from api.models import ApiKey, hash_key


def key_of(request: HttpRequest) -> ApiKey | None:
    """The active key a request carries, if any; looked up before any tenant is known."""
    header = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(header) != 2 or header[0].lower() != "bearer":
        return None
    with scopes_disabled():
        return (
            ApiKey.objects.select_related("organization")
            .filter(key_hash=hash_key(header[1]), revoked_at__isnull=True)
            .first()
        )


def may_send_full_bodies(request: HttpRequest) -> bool:
    """A read-write key uploads documents as a member does (organizations.security)."""
    if not request.path_info.startswith("/api/"):
        return False
    key = key_of(request)
    return key is not None and key.can_write


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the key as “Bearer <key>”."))
        try:
            header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("This key is not valid.")) from None
        # The key is what names the organisation.
        api_key = key_of(request._request)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("This key is not valid or was revoked."))
        with scopes_disabled():
            api_key.touch()
        # Not a person: the key is the caller, and names itself in history and audit.
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
