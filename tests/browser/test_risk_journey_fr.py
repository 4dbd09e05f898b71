"""A risk-based group in French, end to end: the admin builds a tiered group "Risque" through
its form; eleven months on its page charts the coming work; raising a client's risk brings
their next update nearer, and the "⋯" pop-up says when and why; a new address asks them out
of cycle; the client answers that request and another group's, due the same day, on one
page on a phone."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier
from monitoring import triggers
from monitoring.dispatch import dispatch_group_now, open_run
from monitoring.models import Cadence, ProfileSchedule, UpdateGroup
from outbox.mail import send_due
from profiles.models import FieldValue, Source
from profiles.services import NewValue, apply_values
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)

# A Monday morning in Paris; the admin comes back eleven months later.
START = dt.datetime(2027, 1, 4, 8, 30, tzinfo=dt.UTC)
LATER = dt.datetime(2027, 12, 6, 8, 30, tzinfo=dt.UTC)
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def _shot(page, shots, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def _log_in(page, url: str) -> None:
    page.goto(f"{url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.wait_for_selector("h1")


def test_a_risk_based_group_from_its_form_to_the_clients_phone(
    browser, axe, live_server, org, settings, shots, time_machine
):
    time_machine.move_to(START, tick=True)
    settings.SITE_URL = live_server.url
    settings.DOSSIERS_DAILY_SETTLE_SECONDS = 300
    with scopes_disabled():
        org.default_language = "fr"
        org.save()
    make_member(org, "alice", "admin")
    risk = factories.field(org, "choice", label="Risque", choices=["Élevé", "Moyen", "Faible"])
    address = factories.field(org, "text", label="Adresse")
    funds = factories.field(org, "text", label="Source des fonds")
    passport = factories.field(org, "text", label="Numéro de passeport")
    claire = factories.contact(
        org, first_name="Claire", last_name="Martin", email="claire@example.com", language="fr"
    )
    with scope(organization=org):
        apply_values(
            claire,
            [
                NewValue(risk, "Faible"),
                NewValue(address, "3 rue Oberkampf"),
                NewValue(funds, "Salaire"),
            ],
            source=Source.STAFF,
        )
        for i, tier in enumerate(["Élevé", "Moyen", "Faible", ""]):
            other = factories.contact(org, first_name="Client", last_name=f"A{i}", email="")
            if tier:
                apply_values(other, [NewValue(risk, tier)], source=Source.STAFF)

    context = axe.context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    _log_in(page, live_server.url)

    # Settings > Data fields > Data monitoring: a new group, tiered on "Risque".
    page.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/")
    page.get_by_role("link", name="Nouveau groupe").click()
    page.fill("#id_title", "Risque")
    page.check(f"input[name=fields][value='{funds.pk}']")
    page.fill("#id_start_date", "2027-01-04")
    # A client whose risk is not known yet is asked as often as the riskiest.
    page.select_option("#id_frequency", "1-years")
    page.select_option("#id_cadence", Cadence.TIERED.value)
    page.select_option("#id_tier_field", str(risk.pk))
    page.fill("#id_tiers", "Élevé: 12\nMoyen: 36\nFaible: 60")
    page.check(f"input[name='trigger_fields'][value='{address.pk}']")
    preview = page.locator("#group-preview")
    preview.get_by_text("Le groupe interroge 5 contacts, chacun à son propre jour").wait_for()
    assert preview.locator("ol.upcoming").count() == 0
    axe.check(page, "tiered")
    _shot(page, shots, "risk-1-group-form-fr")
    page.click("button.primary:has-text('Enregistrer')")
    page.wait_for_selector("#workload-title")
    with scopes_disabled():
        group = UpdateGroup.objects.get(title="Risque")
        assert (group.cadence, group.tier_field_id) == (Cadence.TIERED, risk.pk)
        assert group.tiers == [
            {"value": "Élevé", "months": 12},
            {"value": "Moyen", "months": 36},
            {"value": "Faible", "months": 60},
        ]
        assert list(group.trigger_fields.all()) == [address]
        tiers = dict(ProfileSchedule.objects.filter(group=group).values_list("profile", "tier"))
    assert sorted(tiers.values()) == ["", "Faible", "Faible", "Moyen", "Élevé"]

    # New high-risk clients come in over the following weeks, each asked a year after.
    for k in range(12):
        time_machine.move_to(START + dt.timedelta(days=5 * k, hours=1), tick=True)
        with scope(organization=org):
            newcomer = factories.contact(org, first_name="Nouveau", last_name=f"B{k:02}", email="")
            apply_values(newcomer, [NewValue(risk, "Élevé")], source=Source.STAFF)

    time_machine.move_to(LATER, tick=True)
    _log_in(page, live_server.url)
    page.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/{group.uuid}/")
    page.wait_for_selector("#workload-title")
    assert "Charge de travail des 90 prochains jours" in page.inner_text("#workload-title")
    details = page.inner_text("dl")
    for tier, months in (("Élevé", 12), ("Moyen", 36), ("Faible", 60)):
        assert f"{tier} : tous les {months} mois" in details
    assert "Sans niveau\nTous les ans" in details
    desc = page.locator("figure.workload svg[role=img] desc").text_content()
    # The high-risk client and the one without a tier, asked a year after the group began,
    # and the twelve newcomers, each a year after they came: from 4 January to 28 February.
    assert desc.startswith("14 demandes"), desc
    axe.check(page, "workload")
    _shot(page, shots, "risk-2-group-page-fr")

    # Claire's risk raised from Faible to Élevé through the staff form.
    profile_url = f"{live_server.url}/o/{org.slug}/profiles/{claire.uuid}/"
    page.goto(f"{profile_url}values/")
    page.select_option(f"#id_f_{risk.uuid.hex}", "Élevé")
    page.click("button.primary")
    page.wait_for_url(profile_url)
    page.click(f"a.more-button[href*='{funds.uuid}']")
    dialog = page.locator("dialog#dialog")
    dialog.get_by_text("Prochaine mise à jour").wait_for()
    text = dialog.inner_text()
    assert "4 janv. 2028" in text or "04/01/2028" in text, text
    assert "Tous les 12 mois, Risque : Élevé, dans le groupe depuis le" in text, text
    axe.check(page, "pop-up")
    # The viewport only: the dialog's backdrop covers the window, not the whole page.
    page.screenshot(path=str(shots / "risk-3-popup-fr.png"))
    page.keyboard.press("Escape")

    # A new address: the trigger asks her for the group's fields at once.
    page.goto(f"{profile_url}values/")
    page.fill(f"#id_f_{address.uuid.hex}", "12 avenue Jean Jaurès")
    page.click("button.primary")
    page.wait_for_url(profile_url)
    assert triggers.dispatch_triggered() == 1
    with scopes_disabled():
        triggered = Dossier.objects.get(update_group=group, profile=claire)
    page.goto(f"{live_server.url}/o/{org.slug}/dossiers/{triggered.uuid}/")
    page.get_by_text("Demandé car Adresse a changé le").first.wait_for()
    axe.check(page, "triggered")
    _shot(page, shots, "risk-4-triggered-fr")
    context.close()

    # Another group, "Identité", runs the same day: one e-mail, one page. "The same day" is
    # the organisation's (Paris), that of the triggered request, not the test process's
    # (UTC); the dispatcher runs on the clock held still, and the drain six minutes later on
    # the clock moved there (reading it as a worker does: the day's e-mail it forms is due
    # at the moment it is formed), whatever the time the run reaches these lines.
    day = timezone.localtime(triggered.created_at, org.tzinfo).date()
    opened_at = timezone.now()
    assert timezone.localtime(opened_at, org.tzinfo).date() == day
    time_machine.move_to(opened_at, tick=False)
    identity = factories.group(
        org, [passport], title="Identité", start_date=day, interval_unit="years"
    )
    open_run(dispatch_group_now(identity.pk, fan_out=False))
    with scopes_disabled():
        opened = Dossier.objects.filter(profile=claire, update_group__in=[group, identity])
        days = [timezone.localtime(d.created_at, org.tzinfo).date() for d in opened]
    assert days == [day, day]
    drained_at = opened_at + dt.timedelta(minutes=6)
    time_machine.move_to(drained_at, tick=True)
    send_due()
    [email] = [m for m in mail.outbox if m.to == ["claire@example.com"]]
    assert "2 demandes" in email.subject
    url = re.search(r"http://\S+/d/\S+/", email.body).group(0)

    phone = axe.context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    portal = phone.new_page()
    portal.goto(url)
    portal.get_by_role("heading", name="Vos demandes").wait_for()
    assert portal.get_by_role("heading", name="Risque").is_visible()
    assert portal.get_by_role("heading", name="Identité").is_visible()
    assert portal.evaluate(FITS)
    axe.check(portal, "daily")
    _shot(portal, shots, "risk-5-daily-phone-fr")
    portal.get_by_label("Source des fonds").fill("Salaire et héritage")
    portal.get_by_label("Numéro de passeport").fill("19FR12345")
    portal.get_by_role("button", name="Envoyer").click()
    portal.get_by_text("Merci").first.wait_for()
    assert portal.evaluate(FITS)
    axe.check(portal, "sent")
    _shot(portal, shots, "risk-6-sent-phone-fr")
    with scopes_disabled():
        assert set(Dossier.objects.filter(profile=claire).values_list("status", flat=True)) <= {
            Dossier.Status.SUBMITTED,
            Dossier.Status.TO_REVIEW,
        }
        assert FieldValue.objects.get(profile=claire, field=funds).value == "Salaire et héritage"
