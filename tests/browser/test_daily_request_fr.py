"""The client's page of the day on a phone, in French: two groups' requests under their
titles, one form; an error in one keeps what was typed, and the other is sent."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from outbox.mail import send_due
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"


def _open(org, profile, group, fields):
    return factories.dossier(
        org,
        profile,
        fields,
        kind=Dossier.Kind.UPDATE,
        title=group.title,
        update_group_id=group.pk,
        period=group.start_date,
    )


def test_the_page_of_the_day_on_a_phone_in_french(
    browser, live_server, org, settings, shots, time_machine
):
    # A morning in Paris, on a leap day: the requests are all of one local day.
    time_machine.move_to(dt.datetime(2028, 2, 29, 7, 5, tzinfo=dt.UTC), tick=True)
    settings.SITE_URL = live_server.url
    with scopes_disabled():
        org.default_language = "fr"
        org.save()
    passport = factories.field(
        org, "text", label="Passport number", translations={"fr": {"label": "Passeport"}}
    )
    address = factories.field(
        org, "text", label="Home address", translations={"fr": {"label": "Adresse"}}
    )
    phone_number = factories.field(
        org, "text", label="Phone", translations={"fr": {"label": "Téléphone"}}
    )
    identity = factories.group(
        org, [passport], title="Identity", translations={"fr": {"title": "Identité"}}
    )
    residence = factories.group(
        org,
        [address, phone_number],
        title="Residence",
        translations={"fr": {"title": "Domicile et téléphone"}},
    )
    person = factories.contact(
        org, first_name="Claire", last_name="Martin", email="claire@example.com", language="fr"
    )
    # The morning's runs open one group after the other; the invitations wait for both.
    settings.DOSSIERS_DAILY_SETTLE_SECONDS = 300
    first = _open(org, person, identity, [passport])
    second = _open(org, person, residence, [address, phone_number])
    assert not mail.outbox
    send_due(now=timezone.now() + dt.timedelta(minutes=6))
    [email] = mail.outbox
    assert "2 demandes" in email.subject
    url = re.search(r"http://\S+/d/\S+/", email.body).group(0)

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = context.new_page()
    page.goto(url)
    page.get_by_role("heading", name="Vos demandes").wait_for()
    assert page.get_by_role("heading", name="Identité").is_visible()
    assert page.get_by_role("heading", name="Domicile et téléphone").is_visible()
    assert page.evaluate(FITS)
    page.screenshot(path=str(shots / "daily-request-phone-fr.png"), full_page=True)

    page.get_by_label("Passeport").fill("X1234567")
    page.get_by_label("Adresse").fill("1 rue de la Paix")
    page.get_by_role("button", name="Envoyer").click()
    section = page.locator(f"#request-{second.uuid.hex}")
    section.get_by_role("alert").first.wait_for()
    assert page.get_by_label("Adresse").input_value() == "1 rue de la Paix"
    sent = page.locator(f"#request-{first.uuid.hex}")
    assert "Envoyée le" in sent.inner_text()
    assert page.evaluate(FITS)
    page.screenshot(path=str(shots / "daily-request-error-phone-fr.png"), full_page=True)

    page.get_by_label("Téléphone").fill("01 23 45 67 89")
    page.get_by_role("button", name="Envoyer").click()
    page.get_by_text("Merci").first.wait_for()
    with scopes_disabled():
        assert {d.status for d in Dossier.objects.filter(pk__in=[first.pk, second.pk])} <= {
            Dossier.Status.SUBMITTED,
            Dossier.Status.TO_REVIEW,
        }
    context.close()
