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


def test_every_back_office_page_fits_a_phone(browser, live_server, org, shots):
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
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
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
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            too_wide[name] = page.evaluate(OVERFLOWING)
    assert too_wide == {}
    page.goto(pages["profile"])
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(shots / "23-profile-phone.png"), full_page=True)
    context.close()
