"""Who calls the API: an organisation's key, sent as `Authorization: Bearer <key>`."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from api.models import ApiKey, hash_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AnonymousUser, ApiKey] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Send the key as “Bearer <key>”."))
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(_("This key is not valid.")) from None
        # Looked up before any tenant is known: the key is what names the organisation.
        with scopes_disabled():
            api_key = (
                ApiKey.objects.select_related("organization")
                .filter(key_hash=hash_key(key), revoked_at__isnull=True)
                .first()
            )
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("This key is not valid or was revoked."))
        with scopes_disabled():
            api_key.touch()
        # Not a person: the key is the caller, and names itself in history and audit.
        return AnonymousUser(), api_key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'
