"""Settings > Status: an organisation's queues and runs, with what to do about each."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django_scopes import scopes_disabled

from api.models import WebhookDelivery, WebhookEndpoint
from monitoring.models import UpdateRun
from outbox.models import Delivery, Message
from tests import factories

NOW = dt.datetime(2028, 2, 29, 12, 0, tzinfo=dt.UTC)


def _url(org) -> str:
    return f"/o/{org.slug}/settings/status/"


@pytest.fixture
def busy(org, other_org):
    """Some of everything in Acme, and a queue in Globex that Acme must not see."""
    with scopes_disabled():
        for n, (when, status) in enumerate(
            [
                (NOW - dt.timedelta(hours=2), Delivery.Status.QUEUED),
                (NOW - dt.timedelta(minutes=1), Delivery.Status.QUEUED),
                (NOW - dt.timedelta(days=1), Delivery.Status.UNDELIVERABLE),
            ]
        ):
            Message.objects.create(
                organization=org,
                key=f"m{n}",
                kind="k",
                address="a@example.com",
                status=status,
                created_at=when,
            )
        for n in range(5):
            Message.objects.create(
                organization=other_org, key=f"o{n}", kind="k", address="o@example.com"
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
            attempts=2,
        )
        WebhookDelivery.objects.create(
            organization=org,
            endpoint=endpoint,
            key="w2",
            event="value.changed",
            body="{}",
            status=Delivery.Status.UNDELIVERABLE,
            attempts=12,
        )
        group = factories.group(org, title="Proof of address")
        UpdateRun.objects.create(
            organization=org, group=group, period=dt.date(2028, 2, 29), index=49, due_at=NOW
        )
    return endpoint


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            [
                "2</span> e-mails waiting, the oldest written",
                "Sending seems stalled",
                "1 e-mail refused",
                "Proof of address",
                "1 delivery failed and will be tried again",
                "1 given up",
            ],
        ),
        (
            "fr",
            [
                "2</span> e-mails en attente, le plus ancien écrit",
                "envoi semble bloqué",
                "1 e-mail refusé",
                "Proof of address",
                "1 envoi a échoué et sera retenté",
                "1 abandonné",
            ],
        ),
    ],
)
def test_it_shows_each_queue_with_what_to_do(owner_client, owner, org, busy, language, words):
    with time_machine.travel(NOW, tick=False):
        owner_client.force_login(owner)
        response = owner_client.get(_url(org), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    text = response.content.decode()
    for word in words:
        assert word in text, word
    assert f"/o/{org.slug}/settings/webhooks/{busy.uuid}/" in text
    assert "/runs/2028-02-29/" in text
    assert "?outstanding=true&amp;undeliverable=true" not in text  # no dossier concerned


def test_a_quiet_organisation_reads_none_everywhere(owner_client, owner, org):
    with time_machine.travel(NOW, tick=False):
        owner_client.force_login(owner)
        text = owner_client.get(_url(org)).content.decode()
    assert text.count("None:") == 4


def test_its_queries_are_a_fixed_handful(owner_client, owner, org, busy, django_assert_num_queries):
    with time_machine.travel(NOW, tick=False):
        owner_client.force_login(owner)
        with django_assert_num_queries(13):
            assert owner_client.get(_url(org)).status_code == 200


def test_staff_are_refused_and_outsiders_do_not_find_it(member_client, outsider_client, org):
    assert member_client.get(_url(org)).status_code == 403
    assert outsider_client.get(_url(org)).status_code == 404
