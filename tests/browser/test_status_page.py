"""Settings > Status in French, with something in each section, as an admin reads it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from api.models import WebhookDelivery, WebhookEndpoint
from monitoring.models import UpdateRun
from outbox.models import Delivery, Message
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_reads_each_queue_and_what_to_do(browser, live_server, shots, org):
    make_member(org, "alice", "admin")
    now = timezone.now()
    with scopes_disabled():
        for n, status in enumerate([Delivery.Status.QUEUED] * 2 + [Delivery.Status.UNDELIVERABLE]):
            Message.objects.create(
                organization=org,
                key=f"m{n}",
                kind="k",
                address="a@example.com",
                status=status,
                created_at=now - dt.timedelta(hours=2),
            )
        endpoint = WebhookEndpoint.objects.create(
            organization=org, url="https://hooks.example.com/in", events=["value.changed"]
        )
        WebhookDelivery.objects.create(
            organization=org,
            endpoint=endpoint,
            key="w1",
            event="value.changed",
            body="{}",
            attempts=3,
        )
        group = factories.group(org, title="Justificatif de domicile")
        UpdateRun.objects.create(
            organization=org, group=group, period=now.date(), index=1, due_at=now
        )
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.goto(f"{live_server.url}/o/{org.slug}/settings/")
    page.click("nav.tabs a:has-text('État')")
    page.locator("h1:has-text('État')").wait_for()
    assert page.locator("#outbox .notice.error").is_visible()
    assert page.locator("#webhooks-status a:has-text('hooks.example.com')").is_visible()
    page.screenshot(path=str(shots / "50-settings-status-fr.png"), full_page=True)
    page.click("#webhooks-status a:has-text('hooks.example.com')")
    page.wait_for_url(f"**/settings/webhooks/{endpoint.uuid}/")
    context.close()
