"""In French, in a real browser, saving a form untouched keeps every date and number.

A date input only understands ISO dates: rendered as 17/05/1990 it shows empty and posts
nothing, which erased dates on save. Chromium is the judge here, not an HTML parser.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from dossiers.models import DossierItem
from monitoring.models import UpdateGroup
from profiles.models import FieldValue
from profiles.services import NewValue, apply_values
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def french(browser, live_server, org):
    make_member(org, "alice", "admin")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    yield page
    context.close()


@pytest.fixture
def values(org):
    birth = factories.field(org, "date", label="Date de naissance")
    income = factories.field(org, "number", label="Revenu")
    nickname = factories.field(org, "text", label="Surnom")
    person = factories.contact(org, language="fr")
    with scopes_disabled():
        apply_values(
            person,
            [NewValue(birth, "1990-05-17"), NewValue(income, "1234.5"), NewValue(nickname, "Jo")],
            source="staff",
        )
        FieldValue.objects.filter(field=birth).update(expires_on=dt.date(2031, 1, 15))
    return {"person": person, "birth": birth, "income": income, "nickname": nickname}


def _stored(values) -> dict:
    with scopes_disabled():
        rows = FieldValue.objects.filter(profile=values["person"])
        return {row.field_id: (row.value, row.expires_on) for row in rows}


def test_the_values_form_keeps_dates_and_numbers(french, live_server, org, values):
    before = _stored(values)
    french.goto(f"{live_server.url}/o/{org.slug}/profiles/{values['person'].uuid}/values/")
    assert french.is_visible("h1:has-text('Modifier')")
    birth = french.locator(f"#id_f_{values['birth'].uuid.hex}")
    assert birth.input_value() == "1990-05-17"
    assert french.locator(f"#id_f_{values['income'].uuid.hex}").input_value() == "1234,5"
    french.fill(f"#id_f_{values['nickname'].uuid.hex}", "Joséphine")
    french.click("button.primary")
    french.wait_for_url(f"**/profiles/{values['person'].uuid}/")
    after = _stored(values)
    assert after[values["birth"].pk] == before[values["birth"].pk]
    assert after[values["income"].pk] == before[values["income"].pk]
    assert after[values["nickname"].pk][0] == "Joséphine"


def test_the_popup_saved_untouched_keeps_the_expiry_date(french, live_server, org, values):
    french.goto(f"{live_server.url}/o/{org.slug}/profiles/{values['person'].uuid}/")
    french.click(f"#field-{values['birth'].uuid} a.more-button")
    dialog = french.locator("dialog#dialog[open]")
    dialog.wait_for()
    assert dialog.locator("input[type=date]").input_value() == "2031-01-15"
    dialog.locator("button[value=save]").click()
    french.wait_for_selector("dialog#dialog[open]", state="detached")
    french.wait_for_load_state()
    assert _stored(values)[values["birth"].pk][1] == dt.date(2031, 1, 15)


def test_the_group_form_shows_and_keeps_its_start_date(french, live_server, org, values):
    group = factories.group(org, [values["birth"]], start_date=dt.date(2024, 1, 31))
    french.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/{group.uuid}/edit/")
    assert french.locator("#id_start_date").input_value() == "2024-01-31"
    french.fill("#id_title", "Connaissance client")
    french.click("button.primary")
    french.wait_for_url(f"**/monitoring/{group.uuid}/")
    with scopes_disabled():
        group = UpdateGroup.objects.get(pk=group.pk)
    assert group.title == "Connaissance client"
    assert group.start_date == dt.date(2024, 1, 31)


def test_the_portal_keeps_dates_and_numbers_in_french(browser, live_server, org, values):
    fields = [values["birth"], values["income"], values["nickname"]]
    dossier = factories.dossier(org, values["person"], fields)
    link = f"{live_server.url}/d/{factories.token(dossier)}/"
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    portal = phone.new_page()
    portal.goto(link)
    assert portal.locator("input[type=date]").input_value() == "1990-05-17"
    portal.click("button[value=draft]")
    portal.wait_for_url(link)
    with scopes_disabled():
        items = {i.field_id: i for i in DossierItem.objects.filter(dossier=dossier)}
    for field in fields:
        item = items[field.pk]
        shown = item.answer if item.answered else item.initial_value
        assert shown == item.initial_value, field.label
    portal.click("button[value=submit]")
    portal.wait_for_selector("h1")
    assert _stored(values)[values["birth"].pk][0] == "1990-05-17"
    assert _stored(values)[values["income"].pk][0] == "1234.5"
    phone.close()
