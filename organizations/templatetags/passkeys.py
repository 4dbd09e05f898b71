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


@register.inclusion_tag("registration/passkeys_section.html", takes_context=True)
def passkeys_section(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    user = request.user
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "passkeys": passkeys_of(user),
        "verified": verified_by_second_factor(user),
        "required_by": organizations_requiring_two_factor(user),
        "next": request.GET.get("next", ""),
    }
