"""The back office on a 390 px phone: no page scrolls sideways; wide tables scroll inside."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from profiles.services import NewValue, apply_values
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)

# The elements that stick out on the right, named for the failure message.
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 391).slice(0, 6)
  .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)"""


def test_every_back_office_page_fits_a_phone(browser, axe, live_server, org, shots):
    make_member(org, "alice", "admin")
    address = factories.field(org, "text", label="Home address with a rather long label")
    factories.field(org, "document", label="Proof of address", help_text="A recent bill.")
    factories.field(org, "text", applies_to="company", label="Turnover")
    company = factories.company(org, name="Initech International Holdings")
    person = factories.contact(
        org,
        first_name="Maximilienne",
        last_name="de La Tour-Fontaine",
        email="maximilienne.delatourfontaine@example.com",
        company=company,
        is_representative=True,
    )
    with scopes_disabled():
        apply_values(person, [NewValue(address, "12 avenue des Champs-Élysées")], source="staff")
    group = factories.group(org, [address], title="Yearly proof of address")
    dossier = factories.dossier(org, person, [address])
    context = axe.context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    axe.check(page)
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    base = f"{live_server.url}/o/{org.slug}"
    pages = {
        "contacts": f"{base}/contacts/",
        "companies": f"{base}/companies/",
        "profile": f"{base}/profiles/{person.uuid}/",
        "values": f"{base}/profiles/{person.uuid}/values/",
        "history": f"{base}/profiles/{person.uuid}/history/",
        "fields": f"{base}/settings/fields/contacts/",
        "field-form": f"{base}/settings/fields/contacts/new/",
        "groups": f"{base}/settings/fields/monitoring/",
        "group": f"{base}/settings/fields/monitoring/{group.uuid}/",
        "group-form": f"{base}/settings/fields/monitoring/{group.uuid}/edit/",
        "dossiers": f"{base}/dossiers/",
        "dossier": f"{base}/dossiers/{dossier.uuid}/",
        "settings": f"{base}/settings/",
        "audit": f"{base}/settings/audit/",
    }
    too_wide = {}
    for name, url in pages.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        axe.check(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[name] = page.evaluate(OVERFLOWING)
    assert too_wide == {}
    page.goto(pages["profile"])
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "23-profile-phone.png"), full_page=True)
    context.close()


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_header_folds_into_a_menu_on_a_phone(browser, axe, live_server, org, shots, language):
    make_member(org, "alice", "admin")
    factories.contact(org, first_name="Claire", last_name="Martin", email="claire@example.com")
    locale = {"en": "en-GB", "fr": "fr-FR"}[language]
    companies = {"en": "Companies", "fr": "Sociétés"}[language]
    phone = axe.context(viewport={"width": 390, "height": 844}, locale=locale)
    page = phone.new_page()
    page.goto(f"{live_server.url}/login/")
    axe.check(page)
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.goto(f"{live_server.url}/o/{org.slug}/contacts/")
    summary = page.locator("details.navmenu > summary")
    # Folded: the header is one line, and the page starts right below it.
    page.wait_for_function("() => !document.querySelector('details.navmenu').open", polling=50)
    assert not page.locator("nav.mainnav").is_visible()
    header = page.locator("header.topbar").bounding_box()
    assert header["height"] < 70, header
    assert summary.inner_text().strip().endswith("Menu")
    axe.check(page, "menu closed")
    page.screenshot(path=str(shots / f"phone-menu-closed-{language}.png"))
    # From the keyboard: the skip link, the organisation's name, then the menu; Enter opens it.
    for _ in range(3):
        page.keyboard.press("Tab")
    assert summary.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    page.locator("nav.mainnav").wait_for()
    assert page.locator(f"nav.mainnav >> text={companies}").is_visible()
    axe.check(page, "menu open")
    page.screenshot(path=str(shots / f"phone-menu-open-{language}.png"))
    page.click(f"nav.mainnav >> text={companies}")
    page.wait_for_url("**/companies/")
    axe.check(page)
    # The wide list says it scrolls sideways, and the keyboard can scroll it.
    page.goto(f"{live_server.url}/o/{org.slug}/contacts/")
    region = page.locator(".table-wrap[role=region]").first
    page.wait_for_function(
        "() => document.querySelector('.table-wrap[role=region]').scrollWidth >"
        " document.querySelector('.table-wrap[role=region]').clientWidth",
        polling=50,
    )
    assert page.locator("[data-scroll-cue]").first.is_visible()
    assert region.get_attribute("tabindex") == "0"
    region.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.table-wrap[role=region]').scrollLeft > 0", polling=50
    )
    axe.check(page, "scrolled")
    page.screenshot(path=str(shots / f"phone-wide-table-{language}.png"))

    # Without script the menu is served open: nothing is out of reach.
    bare = axe.context(
        viewport={"width": 390, "height": 844}, locale=locale, java_script_enabled=False
    )
    bare_page = bare.new_page()
    bare_page.context.add_cookies(phone.cookies())
    bare_page.goto(f"{live_server.url}/o/{org.slug}/contacts/")
    assert bare_page.locator(f"nav.mainnav >> text={companies}").is_visible()

    # At a desk the menu is always open and its button is not shown.
    desk = axe.context(viewport={"width": 1280, "height": 900}, locale=locale)
    desk_page = desk.new_page()
    desk_page.goto(f"{live_server.url}/login/")
    desk_page.fill("#id_username", "alice")
    desk_page.fill("#id_password", "pw")
    desk_page.click("button.primary")
    desk_page.goto(f"{live_server.url}/o/{org.slug}/contacts/")
    desk_page.locator("nav.mainnav").wait_for()
    assert not desk_page.locator("details.navmenu summary").is_visible()
    assert not desk_page.locator("[data-scroll-cue]").first.is_visible()
    axe.check(desk_page)
    desk_page.screenshot(path=str(shots / f"desktop-header-{language}.png"))
