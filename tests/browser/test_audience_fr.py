"""A group for the high-risk clients only, spread over a week, built in French in a browser:
the count follows the condition as it is typed, the group page charts the coming work."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django_scopes import scopes_disabled

from monitoring.models import UpdateGroup
from profiles.models import FieldValue, Profile
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)

START = dt.datetime(2027, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(START, tick=True):
        yield


def test_an_audience_and_a_spread_in_french(browser, live_server, org, shots):
    org.default_language = "fr"
    org.save()
    make_member(org, "alice", "admin")
    risk = factories.field(org, "choice", label="Risque", choices=["Élevé", "Moyen", "Faible"])
    proof = factories.field(org, "document", label="Justificatif")
    with scopes_disabled():
        people = Profile.objects.bulk_create(
            Profile(organization=org, kind="contact", last_name=f"Client {i:02}") for i in range(30)
        )
        FieldValue.objects.bulk_create(
            FieldValue(organization=org, profile=p, field=risk, value=["Élevé", "Faible"][i % 2])
            for i, p in enumerate(people)
        )
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.wait_for_selector("h1")

    page.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/new/")
    page.fill("#id_title", "Risque élevé")
    page.check(f"input[name=fields][value='{proof.pk}']")
    page.fill("#id_start_date", "2027-04-01")
    preview = page.locator("#group-preview")
    preview.get_by_text("30 contacts").wait_for()
    page.select_option("#id_audience_field_0", str(risk.uuid))
    page.select_option("#id_audience_op_0", "eq")
    page.fill("#id_audience_value_0", "Élevé")
    page.locator("#id_audience_value_0").dispatch_event("change")
    preview.get_by_text("15 contacts").wait_for()
    page.fill("#id_spread_days", "5")
    page.locator("#id_spread_days").dispatch_event("change")
    preview.locator("table.spread-load").wait_for()
    page.screenshot(path=str(shots / "group-audience-fr.png"), full_page=True)
    page.click("button.primary:has-text('Enregistrer')")

    page.wait_for_selector("#workload-title")
    assert "Risque est Élevé" in page.inner_text("dl")
    assert page.locator("figure.workload svg[role=img] desc").count() == 1
    page.screenshot(path=str(shots / "group-workload-fr.png"), full_page=True)
    with scopes_disabled():
        group = UpdateGroup.objects.get()
    assert group.spread_days == 5 and len(group.audience) == 1
