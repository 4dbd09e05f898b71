"""Webhooks: events written with the change that causes them, signed, retried, logged."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint
from profiles.models import FieldValue
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


class Receiver:
    """A real HTTP server on loopback that fails `failures` times, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                failed = len(receiver.received) <= receiver.failures
                self.send_response(500 if failed else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    server = Receiver(failures=3)
    yield server
    server.close()


def _endpoint(org, url, events=("value.changed",)):
    with scopes_disabled():
        return WebhookEndpoint.objects.create(organization=org, url=url, events=list(events))


def test_a_receiver_that_fails_three_times_then_gets_the_same_signed_event(org, receiver):
    endpoint = _endpoint(org, receiver.url)
    profile = factories.contact(org)
    job = factories.field(org, "text", label="Job")
    with scopes_disabled():
        apply_values(profile, [NewValue(job, "Baker")], source="staff")
    start = timezone.now()
    for minutes in (0, 2, 5, 10):
        webhooks.deliver_due(start + dt.timedelta(minutes=minutes))
    assert len(receiver.received) == 4
    bodies = {body for _, body in receiver.received}
    ids = {headers["X-Delivery-Id"] for headers, _ in receiver.received}
    assert len(bodies) == 1 and len(ids) == 1
    body = json.loads(bodies.pop())
    assert body["id"] == ids.pop() and body["event"] == "value.changed"
    assert body["data"]["new_value"] == "Baker" and body["data"]["field"] == str(job.uuid)
    for headers, raw in receiver.received:
        assert webhooks.verify(endpoint.secret, headers["X-Signature"], raw)
        assert not webhooks.verify("another secret", headers["X-Signature"], raw)
    with scopes_disabled():
        delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.response_code, delivery.attempts) == ("sent", 200, 4)


def test_a_failure_waits_for_its_backoff(org, receiver):
    _endpoint(org, receiver.url)
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(factories.field(org), "x")], source="staff")
    start = timezone.now()
    webhooks.deliver_due(start)
    webhooks.deliver_due(start + dt.timedelta(seconds=30))  # before its minute is up
    assert len(receiver.received) == 1
    with scopes_disabled():
        delivery = WebhookDelivery.objects.get()
    assert delivery.status == "queued" and delivery.response_code == 500
    assert delivery.last_error == "HTTP 500"


def test_events_are_written_for_listening_endpoints_of_their_organisation_only(
    api, org, other_org, receiver, django_capture_on_commit_callbacks
):
    mine = _endpoint(org, receiver.url, events=["dossier.sent", "value.changed"])
    _endpoint(other_org, receiver.url, events=list(webhooks.EVENTS))
    _endpoint(org, receiver.url, events=["run.finished"])
    profile = factories.contact(org)
    job = factories.field(org, "text")
    response = api.post(
        "/api/v1/dossiers/",
        {"profile": str(profile.uuid), "fields": [str(job.uuid)], "title": "Yearly"},
        content_type="application/json",
    )
    assert response.status_code == 201
    api.patch(
        f"/api/v1/profiles/{profile.uuid}/values/",
        {"values": [{"field": str(job.uuid), "value": "Chef"}]},
        content_type="application/json",
    )
    with scopes_disabled():
        rows = list(WebhookDelivery.objects.order_by("id"))
    assert [(r.endpoint_id, r.event) for r in rows] == [
        (mine.pk, "dossier.sent"),
        (mine.pk, "value.changed"),
    ]
    sent = json.loads(rows[0].body)["data"]
    assert sent["dossier"] == response.json()["uuid"] and sent["profile"] == str(profile.uuid)


def test_only_http_addresses_and_in_production_no_private_ones(owner_client, org, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    url = f"/o/{org.slug}/settings/webhooks/"
    for address in ("ftp://example.com/x", "http://127.0.0.1:9000/x", "http://10.1.2.3/x"):
        response = owner_client.post(url, {"url": address, "events": ["value.changed"]})
        assert response.status_code == 400, address
        assert "url" in response.context["form"].errors
    with scopes_disabled():
        assert not WebhookEndpoint.objects.exists()


def test_a_private_address_is_refused_at_delivery_too(org, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    _endpoint(org, "http://127.0.0.1:9/hooks")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(factories.field(org), "x")], source="staff")
    webhooks.deliver_due()
    with scopes_disabled():
        delivery = WebhookDelivery.objects.get()
    assert delivery.status == "undeliverable" and "private" in delivery.last_error


def test_an_admin_adds_an_endpoint_sends_a_test_and_sends_again(owner_client, org, receiver):
    response = owner_client.post(
        f"/o/{org.slug}/settings/webhooks/",
        {"url": receiver.url, "events": ["dossier.sent", "value.expired"]},
    )
    assert response.status_code == 302
    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.get()
    page = owner_client.get(response["Location"])
    assert endpoint.secret in page.text
    owner_client.post(f"/o/{org.slug}/settings/webhooks/{endpoint.uuid}/test/")
    webhooks.deliver_due()
    with scopes_disabled():
        delivery = WebhookDelivery.objects.get()
    assert delivery.event == "webhook.test" and delivery.response_code == 500
    owner_client.post(f"/o/{org.slug}/settings/webhooks/deliveries/{delivery.uuid}/again/")
    receiver.failures = 0
    webhooks.deliver_due()
    with scopes_disabled():
        delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 1
    assert receiver.received[0][1] == receiver.received[1][1]
    page = owner_client.get(f"/o/{org.slug}/settings/webhooks/{endpoint.uuid}/")
    assert str(delivery.uuid) in page.text and "200" in page.text
    owner_client.post(f"/o/{org.slug}/settings/webhooks/{endpoint.uuid}/delete/")
    with scopes_disabled():
        assert not WebhookEndpoint.objects.exists()


def test_staff_cannot_see_webhooks(member_client, org):
    assert member_client.get(f"/o/{org.slug}/settings/webhooks/").status_code == 403


def _events(org) -> list[tuple[str, dict]]:
    with scopes_disabled():
        rows = WebhookDelivery.objects.filter(organization=org).order_by("id")
        return [(row.event, json.loads(row.body)["data"]) for row in rows]


def test_a_run_that_finishes_and_a_value_that_expires_are_events(org, settings):
    from django.test import TestCase

    from monitoring.dispatch import dispatch_due
    from monitoring.expiry import open_dossiers_for_expired_values
    from monitoring.models import GroupDue

    _endpoint(org, "https://example.com/hooks", events=["run.finished", "value.expired"])
    job = factories.field(org, "text")
    profile = factories.contact(org)
    group = factories.group(org, [job])
    now = dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC)
    with scopes_disabled():
        GroupDue.objects.filter(group=group).update(
            next_index=1, next_run_at=dt.datetime(2024, 2, 29, 7, tzinfo=dt.UTC)
        )
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch_due(now=now)
    other = factories.field(org, "text")
    with scopes_disabled():
        apply_values(profile, [NewValue(other, "old")], source="staff")
        FieldValue.objects.filter(field=other).update(expires_on=dt.date(2024, 2, 1))
    open_dossiers_for_expired_values(now)
    events = [(event, data) for event, data in _events(org) if event != "value.changed"]
    assert events == [
        (
            "run.finished",
            {"group": str(group.uuid), "period": "2024-02-29", "dossiers_opened": 1},
        ),
        (
            "value.expired",
            {"profile": str(profile.uuid), "field": str(other.uuid), "expires_on": "2024-02-01"},
        ),
    ]


def test_a_submission_and_an_approval_are_events(api, org):
    from django.test import Client

    _endpoint(org, "https://example.com/hooks", events=["dossier.submitted", "dossier.approved"])
    job = factories.field(org, "text")
    profile = factories.contact(org, email="client@example.com")
    group = factories.group(org, [job], review_required=True)
    dossier = factories.dossier(
        org, profile, [job], kind="update", update_group_id=group.pk, period=dt.date(2026, 1, 31)
    )
    token = factories.token(dossier)
    answer = {f"f_{job.uuid.hex}": "Chef", "action": "submit"}
    assert Client().post(f"/d/{token}/", answer).status_code == 302
    approve = api.post(
        f"/api/v1/dossiers/{dossier.uuid}/approve/", "{}", content_type="application/json"
    )
    assert approve.status_code == 200
    events = _events(org)
    assert [(event, data["status"]) for event, data in events] == [
        ("dossier.submitted", "to_review"),
        ("dossier.approved", "approved"),
    ]
    assert events[0][1]["dossier"] == str(dossier.uuid)
