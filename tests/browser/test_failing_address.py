"""A client's mailbox that no longer exists, seen by staff in French: the service's bounce
arrives by webhook, the profile, the run's follow-up and the settings say so, and "Try
again" clears it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from monitoring.dispatch import dispatch_group_now, open_run
from monitoring.models import UpdateRun
from outbox.mail import send_due
from outbox.models import FailingAddress, Message
from tests import factories
from tests.conftest import make_member
from tests.outbox import services
from tests.outbox.services import SECRET, SIGNING_KEY, ServiceBackend, auth

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_bounce_shows_where_staff_look_and_try_again_clears_it(
    browser, axe, live_server, org, shots, settings, time_machine
):
    time_machine.move_to(dt.datetime(2027, 3, 15, 9, 30, tzinfo=dt.UTC), tick=True)
    settings.EMAIL_SERVICE = "postmark"
    settings.EMAIL_BACKEND = "tests.outbox.services.ServiceBackend"
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    settings.DEFAULT_FROM_EMAIL = "Back office <no-reply@mail.acme.example>"
    org.default_language = "fr"
    org.contact_email = "bureau@acme.example"
    org.save()
    make_member(org, "alice", "admin")
    field = factories.field(org, "text", label="Adresse")
    person = factories.contact(
        org, first_name="Claire", last_name="Martin", email="claire@example.com", language="fr"
    )
    factories.contact(org, first_name="Jean", last_name="Dupont", email="jean@example.com")
    group = factories.group(org, [field], title="Justificatif annuel")
    ServiceBackend.by_address = {
        "claire@example.com": services.POSTMARK_MESSAGE_ID,
        "jean@example.com": "another-message",
    }
    run_id = dispatch_group_now(group.pk, fan_out=False)
    open_run(run_id)  # its invitations go out once it commits
    send_due()
    with scopes_disabled():
        run = UpdateRun.objects.get(pk=run_id)
        assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    bounce = services.postmark_bounce("claire@example.com")
    import json

    response = Client().post(
        "/email/events/postmark/", json.dumps(bounce), content_type="application/json", **auth()
    )
    assert response.status_code == 200
    with scopes_disabled():
        assert FailingAddress.objects.filter(address="claire@example.com").exists()

    staff = axe.context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = staff.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    base = f"{live_server.url}/o/{org.slug}"

    page.goto(f"{base}/monitoring/groups/{group.uuid}/runs/{run.period.isoformat()}/")
    assert page.locator(".badge.bad", has_text="Non joint").count() == 1
    axe.check(page)
    page.screenshot(path=str(shots / "40-run-not-reached-fr.png"), full_page=True)

    page.goto(f"{base}/profiles/{person.uuid}/")
    warning = page.locator(".failing-address")
    assert "Les e-mails à claire@example.com sont rejetés" in warning.inner_text()
    axe.check(page)
    page.screenshot(path=str(shots / "41-profile-failing-address-fr.png"), full_page=True)
    warning.get_by_role("button", name="Réessayer").click()
    page.wait_for_load_state("networkidle")
    assert page.locator(".failing-address").count() == 0
    assert "seront de nouveau envoyés" in page.locator(".messages").inner_text()

    page.goto(f"{base}/settings/")
    section = page.locator("#email")
    assert "mail.acme.example" in section.inner_text()
    assert "bureau@acme.example" in section.inner_text()
    section.screenshot(path=str(shots / "42-settings-email-fr.png"))
    staff.close()
    ServiceBackend.by_address = {}
