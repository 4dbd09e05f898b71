"""The log-in page's way to single sign-on: when the page that asked for a log-in belongs
to an organisation with a provider, a link to sign in through it."""

from __future__ import annotations

from django import template
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode

from organizations import sso

register = template.Library()


@register.simple_tag
def sso_sign_in_link(next_url: object) -> str:
    path = str(next_url or "").split("?", 1)[0]
    if not path.startswith("/o/"):
        return ""
    try:
        slug = resolve(path).kwargs.get("org_slug")
    except Resolver404:
        return ""
    provider = sso.provider_for_slug(slug) if slug else None
    if provider is None:
        return ""
    url = reverse("sso_sign_in", kwargs={"organization": provider.organization.slug})
    return f"{url}?{urlencode({'next': str(next_url)})}"
