"""The journey in French, as the product's first market lives it: a French-speaking team
writes its fields in French with an English translation, a French client answers on a phone,
and no date or number is lost on the way."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scopes_disabled

from monitoring.dispatch import dispatch_due
from monitoring.models import GroupDue
from profiles.models import DataField, FieldValue
from tests import factories
from tests.browser.test_date_guard import _type_31_february
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def _shot(page, shots, name: str, axe) -> None:
    """A screenshot of the page as it is, checked with axe first."""
    axe.check(page, name)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_the_whole_journey_in_french(browser, axe, live_server, shots, org, settings):
    settings.SITE_URL = live_server.url
    org.default_language = "fr"
    org.save()
    make_member(org, "alice", "admin")
    claire = factories.contact(
        org, first_name="Claire", last_name="Martin", email="claire@example.com", language="fr"
    )
    john = factories.contact(
        org, first_name="John", last_name="Smith", email="john@example.com", language="en"
    )
    staff = axe.context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = staff.new_page()
    # A send-back asks for confirmation (hx-confirm): the member confirms.
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")

    # a. Fields written in French, translated into English; a list keeps its stored values.
    page.click("nav.mainnav >> text=Paramètres")
    page.click("text=Nouveau champ")
    page.fill("#id_label", "Date de naissance")
    page.select_option("#id_type", "date")
    page.fill("#id_label_en", "Birth date")
    page.click("button.primary")
    page.click("text=Nouveau champ")
    page.fill("#id_label", "Revenu annuel")
    page.select_option("#id_type", "number")
    page.click("button.primary")
    page.click("text=Nouveau champ")
    page.fill("#id_label", "Situation")
    page.select_option("#id_type", "choice")
    page.fill("#id_choices_text", "Salarié\nIndépendant")
    page.fill("#id_label_en", "Status")
    page.fill("#id_choices_en", "Employee\nSelf-employed")
    page.click("button.primary")
    with scopes_disabled():
        birth = DataField.objects.get(label="Date de naissance")
        income = DataField.objects.get(label="Revenu annuel")
        status = DataField.objects.get(label="Situation")
    assert status.choices == ["Salarié", "Indépendant"]

    # b. Staff type the values in French: a date from the picker, a number with a comma.
    page.goto(f"{live_server.url}/o/{org.slug}/profiles/{claire.uuid}/values/")
    page.fill(f"#id_f_{birth.uuid.hex}", "1990-05-17")
    page.fill(f"#id_f_{income.uuid.hex}", "42 500,50")
    page.select_option(f"#id_f_{status.uuid.hex}", "Indépendant")
    page.click("button.primary")
    assert page.is_visible("text=17/05/1990")
    assert page.is_visible("text=Indépendant")
    with scopes_disabled():
        stored = {v.field_id: v.value for v in FieldValue.objects.filter(profile=claire)}
    assert stored == {birth.pk: "1990-05-17", income.pk: "42500.50", status.pk: "Indépendant"}
    # Saved again untouched, in French, nothing moves.
    page.goto(f"{live_server.url}/o/{org.slug}/profiles/{claire.uuid}/values/")
    page.click("button.primary")
    with scopes_disabled():
        again = {v.field_id: v.value for v in FieldValue.objects.filter(profile=claire)}
    assert again == stored

    # c. A group in French with its English texts, previewed before saving.
    page.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/new/")
    page.fill("#id_title", "Revue annuelle")
    page.fill("#id_message", "Merci de vérifier vos informations.")
    page.fill("#id_title_en", "Yearly review")
    page.fill("#id_message_en", "Please check your details.")
    for field in (birth, income, status):
        page.check(f"#group-fields label:has-text('{field.label}') input[name=fields]")
    page.fill("#id_start_date", timezone.localdate(timezone=org.tzinfo).isoformat())
    page.select_option("#id_frequency", "1-years")
    page.check("#id_review_required")  # staff approve the answers before they are written
    page.wait_for_selector("#group-preview >> text=Chaque mise à jour interroge 2 contacts.")
    _shot(page, shots, "24-group-form-fr", axe)
    page.click("button.primary")
    assert page.is_visible("h1:has-text('Revue annuelle')")

    # d. Each client is written to in their own language.
    with scopes_disabled():
        GroupDue.objects.update(next_run_at=timezone.now() - dt.timedelta(minutes=1))
    dispatch_due()
    [french] = [m for m in mail.outbox if m.to == ["claire@example.com"]]
    [english] = [m for m in mail.outbox if m.to == ["john@example.com"]]
    assert "Revue annuelle" in french.body and "Date de naissance" in french.body
    assert "Yearly review" in english.body and "Birth date" in english.body
    assert "Revenu annuel" in english.body  # no English label: the organisation's French one

    # e. The French client confirms on a phone: the date picker holds the date.
    phone = axe.context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    portal = phone.new_page()
    portal.goto(re.search(r"(http://\S+/d/\S+/)", french.body).group(1))
    assert portal.is_visible("h1:has-text('Revue annuelle')")
    assert portal.locator(f"#id_f_{birth.uuid.hex}").input_value() == "1990-05-17"
    assert portal.locator(f"#id_f_{income.uuid.hex}").input_value() == "42500,50"
    assert portal.locator(f"#id_f_{status.uuid.hex} option:checked").inner_text() == "Indépendant"
    _shot(portal, shots, "25-portal-fr-dates", axe)
    # 31/02 typed into the picker: the browser would send it empty; the page holds it back.
    birth_input = portal.locator(f"#id_f_{birth.uuid.hex}")
    _type_31_february(birth_input, "1990")
    portal.click("button[value=submit]")
    portal.wait_for_selector("[data-bad-input-message]")
    assert "Cette date n\u2019existe pas" in portal.inner_text("[data-bad-input-message]")
    assert not portal.is_visible("h1:has-text('Merci')")
    _shot(portal, shots, "26-portal-fr-impossible-date", axe)
    with scopes_disabled():
        assert claire.dossiers.get().status in ("open", "opened")
    birth_input.fill("1990-05-17")
    for field in (birth, income, status):
        checkbox = portal.locator(f"#id_c_{field.uuid.hex}")
        if checkbox.count():
            checkbox.check()
    portal.click("button[value=submit]")
    assert portal.is_visible("h1:has-text('Merci')")
    with scopes_disabled():
        after = {v.field_id: v.value for v in FieldValue.objects.filter(profile=claire)}
    assert after == stored

    # f. The English client reads the choice labels in English; the stored value stays French.
    english_phone = axe.context(viewport={"width": 390, "height": 844}, locale="en-GB")
    english_portal = english_phone.new_page()
    english_portal.goto(re.search(r"(http://\S+/d/\S+/)", english.body).group(1))
    assert english_portal.is_visible("label:has-text('Status')")
    english_portal.select_option(f"#id_f_{status.uuid.hex}", label="Self-employed")
    english_portal.click("button[value=draft]")
    with scopes_disabled():
        item = john.dossiers.get().items.get(field=status)
    assert item.answer == "Indépendant"

    # g. Staff approve Claire's answers, seeing first what will change; the audit log says so.
    with scopes_disabled():
        answered = claire.dossiers.get()
    assert answered.status == "to_review"
    page.goto(f"{live_server.url}/o/{org.slug}/dossiers/{answered.uuid}/")
    page.click("button:has-text('Tout approuver')")
    _shot(page, shots, "27-approve-all-fr", axe)
    page.click("form[method=post] button.primary")
    with scopes_disabled():
        answered.refresh_from_db()
    assert answered.status == "approved"
    page.goto(f"{live_server.url}/o/{org.slug}/settings/audit/")
    assert page.is_visible("td:has-text('Réponses d\u2019un dossier approuvées')")
    assert page.is_visible("h1:has-text('Journal des modifications')")
    _shot(page, shots, "28-audit-log-fr", axe)
    staff.close()
    phone.close()
    english_phone.close()
