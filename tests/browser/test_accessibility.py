"""axe-core over the whole product, in French and English, at a desk and on a phone.

The demo organisation (seed_demo) is walked from its home by following its own links, one
page per URL name, as in tests/test_no_english.py; then the pages' error states, a client's
portal page and its errors. Any serious or critical violation on the product's own pages
fails (the API reference, drawn by a third party, is only reported: see conftest.py)."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core.management import call_command
from django.urls import Resolver404, resolve
from django_scopes import scopes_disabled

from dossiers.models import AccessToken, Dossier
from organizations.demo import DEMO_ADMIN, DEMO_PASSWORD
from organizations.models import Organization
from profiles.models import DataField

pytestmark = pytest.mark.django_db(transaction=True)

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
LOCALES = {"en": "en-GB", "fr": "fr-FR"}
MAX_PAGES = 80
# Never followed: downloads, exports, one-time links and the way out.
NOT_PAGES = re.compile(
    r"(\.csv|\.xlsx|\.json|/export|/download|/files/|/logout|/documents?/|/link/|/schema/)"
)
LINKS = """() => [...document.querySelectorAll('a[href^="/"]')].map(a => a.getAttribute('href'))"""


@pytest.fixture
def demo(settings) -> Organization:
    settings.DEBUG = True  # the demo refuses what looks like production
    with time_machine.travel(dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC), tick=False):
        call_command("seed_demo")
    settings.DEBUG = False
    with scopes_disabled():
        return Organization.objects.get(slug="demo")


def _log_in(page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", DEMO_ADMIN)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login/" not in url)
    page.locator("main h1").wait_for()


def _walk(page, axe, base: str, start: str) -> list[str]:
    """Checks every page reached from start by links, one per URL name; returns their paths."""
    seen: set[str] = set()
    visited: list[str] = []
    queue = [start]
    while queue and len(visited) < MAX_PAGES:
        path = urlsplit(queue.pop(0)).path
        try:
            match = resolve(path)
        except Resolver404:
            continue
        name = f"{match.namespace}:{match.url_name}"
        if name in seen or NOT_PAGES.search(path):
            continue
        seen.add(name)
        response = page.goto(f"{base}{path}")
        if (
            response is None
            or response.status >= 400
            or "html" not in response.headers.get("content-type", "")
        ):
            continue
        page.wait_for_load_state("networkidle")
        axe.check(page)
        visited.append(path)
        queue += page.evaluate(LINKS)
    return visited


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("language", LOCALES)
def test_every_back_office_page_passes_axe(browser, axe, live_server, demo, language, viewport):
    context = axe.context(viewport=VIEWPORTS[viewport], locale=LOCALES[language])
    page = context.new_page()
    base = live_server.url
    page.goto(f"{base}/login/")
    axe.check(page)
    _log_in(page, base)
    visited = _walk(page, axe, base, f"/o/{demo.slug}/")
    joined = " ".join(visited)
    for part in ("/contacts/", "/fields/", "/monitoring/", "/dossiers/", "/settings/audit/"):
        assert part in joined, (part, visited)
    assert len(visited) >= 30, visited
    assert page.evaluate("() => document.documentElement.lang") == language

    # States a walk by URL name does not reach: a chosen tile of the compliance overview.
    page.goto(f"{base}/o/{demo.slug}/monitoring/overview/")
    page.locator("a.stat").first.click()
    page.locator("a.stat.current").wait_for()
    axe.check(page, "with a tile chosen")

    # Error states: a form sent empty ties each message to its input.
    page.goto(f"{base}/o/{demo.slug}/contacts/new/")
    page.click("main button.primary")
    invalid = page.locator("[aria-invalid=true]").first
    invalid.wait_for()
    described = invalid.get_attribute("aria-describedby") or ""
    assert described
    for ident in described.split():
        assert page.locator(f"#{ident}").count() == 1, ident
    axe.check(page, "with errors")


@pytest.mark.parametrize("viewport", VIEWPORTS)
@pytest.mark.parametrize("language", LOCALES)
def test_the_portal_passes_axe(browser, axe, live_server, demo, language, viewport):
    with scopes_disabled():
        dossier = (
            Dossier.objects.filter(organization=demo, profile__language=language)
            .exclude(status=Dossier.Status.EXPIRED)
            .select_related("profile")
            .first()
        )
        token = AccessToken.issue(dossier, dossier.profile)
    context = axe.context(viewport=VIEWPORTS[viewport], locale=LOCALES[language])
    page = context.new_page()
    page.goto(f"{live_server.url}/d/{token}/")
    page.locator("main h1").wait_for()
    axe.check(page)


def test_the_first_tab_stop_skips_to_the_content(browser, axe, live_server, demo):
    context = axe.context(viewport=VIEWPORTS["desktop"], locale="en-GB")
    page = context.new_page()
    _log_in(page, live_server.url)
    axe.check(page)
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    assert skip.evaluate("el => el === document.activeElement")
    assert skip.is_visible()
    skip.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "content"


def test_a_table_that_scrolls_can_be_scrolled_from_the_keyboard(browser, axe, live_server, demo):
    context = axe.context(viewport=VIEWPORTS["phone"], locale="fr-FR")
    page = context.new_page()
    _log_in(page, live_server.url)
    page.goto(f"{live_server.url}/o/{demo.slug}/contacts/")
    axe.check(page)
    region = page.locator(".table-wrap").first
    assert region.get_attribute("tabindex") == "0"
    assert region.get_attribute("role") == "region"
    assert region.get_attribute("aria-label") or region.get_attribute("aria-labelledby")
    # Wider than the phone: it says so, and the arrow keys move it.
    assert region.evaluate("el => el.scrollWidth > el.clientWidth")
    assert page.locator(".scroll-cue").first.is_visible()
    region.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.querySelector('.table-wrap').scrollLeft > 0", polling=50)


def test_an_error_in_the_pop_up_moves_focus_to_the_field(browser, axe, live_server, demo):
    with scopes_disabled():
        value = (
            DataField.objects.filter(organization=demo, values__isnull=False)
            .values_list("values__profile__uuid", "uuid")
            .first()
        )
    profile_uuid, field_uuid = value
    context = axe.context(viewport=VIEWPORTS["desktop"], locale="en-GB")
    page = context.new_page()
    _log_in(page, live_server.url)
    page.goto(f"{live_server.url}/o/{demo.slug}/profiles/{profile_uuid}/")
    axe.check(page)
    page.click(f"#field-{field_uuid} a.more-button")
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("input[type=date]").wait_for()
    date_input = dialog.locator("input[type=date]")
    # Saved without a date: the error comes back into the dialog, and the keyboard is on the
    # field it concerns.
    date_input.fill("")
    dialog.locator("button:has-text('Save')").click()
    dialog.locator("[aria-invalid=true]").wait_for()
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.getAttribute('aria-invalid')"
        " === 'true'",
        polling=50,
    )
    axe.check(page, "pop-up with an error")
