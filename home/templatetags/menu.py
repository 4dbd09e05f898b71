"""The layout's main menu, rendered once per process for each set of what it shows.

Every signed-in page draws the same few links; rendering them (seven URLs reversed, their
labels translated) was a quarter of the bare layout's time. The menu is a pure function of
the values in its key — the organisation, whether the member administers it, the language,
the URL prefix, which links are the current page's and the badge's count — so a rendering
kept under that key can never show another organisation's, role's or language's links, and
needs no invalidation: a new count or a new slug is a new key.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django import template
from django.template.context import Context
from django.template.loader import get_template
from django.templatetags.static import static
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, override

from dossiers import selectors, versions

register = template.Library()

# Distinct keys are few: organisations a process serves times two roles, two languages
# and a handful of current links and counts. The bound only caps a long-lived process.
MENUS_KEPT = 4096


@lru_cache(maxsize=MENUS_KEPT)
def _rendered(
    organization_slug: str,
    organization_id: int,
    is_admin: bool,
    language: str,
    prefix: str,
    current: tuple[bool, ...],
    review_count: int,
) -> SafeString:
    # The id is in the key only so that an organisation's menu is never another's, even
    # one that took over a freed slug: it renders nothing itself.
    contacts, companies, dossiers, review, compliance, settings = current
    with override(language):
        html = get_template("includes/mainnav.html").render(
            {
                "slug": organization_slug,
                "is_org_admin": is_admin,
                "review_count": review_count,
                "current": {
                    "contacts": contacts,
                    "companies": companies,
                    "dossiers": dossiers,
                    "review": review,
                    "compliance": compliance,
                    "settings": settings,
                },
            }
        )
    return mark_safe(html)  # noqa: S308  (the template's own escaped output)


def _current(request: Any) -> tuple[bool, ...]:
    """Which links are the page's own: contacts, companies, dossiers, review queue,
    compliance, settings."""
    match = getattr(request, "resolver_match", None)
    section: str | None = match.url_name if match else None
    kind = match.kwargs.get("url_kind") if match else None
    app = match.app_name if match else ""
    # A profile list's own pages, not its fields' settings (an unnamed URL is neither).
    listed = app == "profiles" and section is not None and "field" not in section
    return (
        listed and kind == "contacts",
        listed and kind == "companies",
        app == "dossiers" and section != "review_queue",
        section == "review_queue",
        section == "overview",
        "settings" in request.path,
    )


@register.simple_tag(takes_context=True)
def main_menu(context: Context) -> str:
    organization = context.get("organization")
    request = context.get("request")
    if organization is None or request is None:
        return ""
    # A page that counted the dossiers to review says so (the home, the review queue).
    counted = context.get("to_review_count")
    review_count = (
        int(counted)
        if counted is not None
        else selectors.to_review_count(organization, version=versions.of_request(request))
    )
    return _rendered(
        organization.slug,
        organization.pk,
        bool(context.get("is_org_admin")),
        get_language(),
        get_script_prefix(),
        _current(request),
        review_count,
    )


@lru_cache(maxsize=MENUS_KEPT)
def _links(organization_slug: str | None, prefix: str) -> dict[str, str]:
    # The same for every page of an organisation (no URL of the project depends on the
    # language), and the static files' names are fixed for the process's life.
    links = {
        "home": reverse("home"),
        "set_language": reverse("set_language"),
        "two_factor": reverse("two_factor"),
        "logout": reverse("logout"),
        "favicon": static("favicon.svg"),
        "css": static("css/app.css"),
        "js": static("js/app.js"),
    }
    if organization_slug is not None:
        links["org_home"] = reverse("org_home", args=[organization_slug])
        links["search"] = reverse("home:search", args=[organization_slug])
        links["my_notices"] = reverse("my_notices", args=[organization_slug])
    return links


@register.simple_tag(takes_context=True)
def layout_links(context: Context) -> dict[str, str]:
    """The layout's own links, reversed once per process for each organisation: a handful
    of reversals on every page otherwise."""
    organization = context.get("organization")
    return _links(organization.slug if organization is not None else None, get_script_prefix())
