"""/metrics: who may read it, what it says, and what it costs."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django_scopes import scopes_disabled

from monitoring.models import DispatchPass
from outbox.models import Delivery, Message

NOW = dt.datetime(2027, 12, 31, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def token(settings) -> str:
    settings.METRICS_TOKEN = "s3cret-token"
    return settings.METRICS_TOKEN


def _scrape(client: Client, token: str) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def _value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the scrape")


def test_it_is_not_there_when_nobody_is_let_in(db, settings):
    settings.METRICS_TOKEN, settings.METRICS_NETWORKS = "", []
    assert Client().get("/metrics").status_code == 404


def test_it_refuses_a_wrong_or_missing_token(db, token):
    assert Client().get("/metrics").status_code == 401
    refused = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")


def test_a_network_rule_lets_its_addresses_in(db, settings):
    settings.METRICS_TOKEN, settings.METRICS_NETWORKS = "", ["10.0.0.0/8"]
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="192.0.2.1").get("/metrics").status_code == 401


def test_it_counts_the_queues_and_the_last_dispatcher_pass(db, org, token):
    with scopes_disabled():
        Message.objects.create(
            organization=org,
            key="a",
            kind="k",
            address="a@example.com",
            created_at=NOW - dt.timedelta(minutes=5),
        )
        Message.objects.create(
            organization=org,
            key="b",
            kind="k",
            address="b@example.com",
            created_at=NOW - dt.timedelta(minutes=1),
        )
        Message.objects.create(
            organization=org,
            key="c",
            kind="k",
            address="c@example.com",
            status=Delivery.Status.UNDELIVERABLE,
        )
    DispatchPass.objects.create(
        pk=1, started_at=NOW - dt.timedelta(seconds=30), duration=0.25, runs=3
    )
    with time_machine.travel(NOW, tick=False):
        text = _scrape(Client(), token)
    assert _value(text, "backoffice_outbox_messages_waiting") == 2
    assert _value(text, "backoffice_outbox_oldest_waiting_age_seconds") == 300
    assert _value(text, "backoffice_outbox_messages_undeliverable") == 1
    assert _value(text, "backoffice_runs_unfinished") == 0
    assert _value(text, "backoffice_files_pending_deletion") == 0
    assert _value(text, "backoffice_webhook_deliveries_waiting") == 0
    assert (
        _value(text, "backoffice_dispatch_last_pass_timestamp_seconds")
        == (NOW - dt.timedelta(seconds=30)).timestamp()
    )
    assert _value(text, "backoffice_dispatch_last_pass_duration_seconds") == 0.25
    assert _value(text, "backoffice_dispatch_last_pass_runs") == 3
    assert 'backoffice_dependency_up{dependency="database"} 1.0' in text


def test_request_latency_is_recorded_by_view(db, token):
    client = Client()
    client.get("/healthz")
    text = _scrape(client, token)
    assert 'backoffice_request_duration_seconds_count{method="GET",view="healthz"}' in text


def test_the_gauges_cost_a_fixed_handful_of_queries(db, org, token, django_assert_num_queries):
    from operations import selectors

    # Outbox (queued, refused), runs, files, webhooks (queued, refused), the last pass.
    with django_assert_num_queries(7):
        selectors.gauges(NOW)


def test_the_dispatcher_task_records_its_pass(db):
    from monitoring.tasks import dispatch_due_groups

    with time_machine.travel(NOW, tick=False):
        dispatch_due_groups()
        dispatch_due_groups()
    [recorded] = DispatchPass.objects.all()
    assert recorded.started_at == NOW
    assert recorded.runs == 0


@pytest.mark.parametrize(
    ("networks", "refused"),
    [([], False), (["10.0.0.0/8", "fd00::/8"], False), (["0.0.0.0/0"], True), (["::/0"], True)],
)
def test_check_deploy_refuses_metrics_open_to_the_internet(settings, networks, refused):
    from operations.checks import check_metrics_access

    settings.METRICS_NETWORKS = networks
    ids = {problem.id for problem in check_metrics_access(None)}
    assert ("operations.E001" in ids) == refused


def test_check_deploy_warns_of_a_short_token(settings):
    from operations.checks import check_metrics_access

    settings.METRICS_TOKEN = "short"
    assert {problem.id for problem in check_metrics_access(None)} == {"operations.W001"}
    settings.METRICS_TOKEN = "x" * 43
    assert check_metrics_access(None) == []
