"""`{% passkey_scripts "auth" %}` and `{% passkeys_section %}`: passkeys on the account's pages.

The scripts are static files and the configuration a JSON data block: nothing inline that the
Content-Security-Policy would have to allow.
"""

from __future__ import annotations

from typing import Any

from django import template

from organizations.passkeys import configuration
from organizations.selectors import (
    organizations_requiring_two_factor,
    passkeys_of,
    verified_by_second_factor,
)

register = template.Library()

SCRIPTS = {
    "auth": "django_otp_webauthn/otp_webauthn_auth.js",
    "register": "django_otp_webauthn/otp_webauthn_register.js",
}


@register.inclusion_tag("registration/passkey_scripts.html", takes_context=True)
def passkey_scripts(context: template.Context, ceremony: str) -> dict[str, Any]:
    return {"config": configuration(context["request"]), "script": SCRIPTS[ceremony]}


def _passkeys(request: Any) -> list[Any]:
    """The account's passkeys, read once per request whichever tag asks first."""
    if not hasattr(request, "_passkeys"):
        request._passkeys = passkeys_of(request.user)
    return list(request._passkeys)


@register.simple_tag(takes_context=True)
def passkey_count(context: template.Context) -> int:
    """How many passkeys the signed-in account has (the app's page words itself by it)."""
    return len(_passkeys(context["request"]))


@register.inclusion_tag("registration/passkeys_section.html", takes_context=True)
def passkeys_section(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "passkeys": _passkeys(request),
        "verified": verified_by_second_factor(user),
        "required_by": organizations_requiring_two_factor(user),
        "next": request.GET.get("next", ""),
    }
