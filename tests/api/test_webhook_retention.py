"""Webhook delivery bodies hold personal values: they go after their retention, and with
the person's erasure (L7)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from importlib import import_module

from django.apps import apps
from django_scopes import scope, scopes_disabled

from api.apps import ApiConfig
from api.models import WebhookDelivery, WebhookEndpoint
from api.tasks import purge_deliveries
from organizations.actors import Actor
from organizations.models import AuditEntry
from profiles.actions import erase_profile
from tests import factories

NOW = dt.datetime(2027, 3, 31, 12, tzinfo=dt.UTC)


def _endpoint(org):
    with scopes_disabled():
        return WebhookEndpoint.objects.create(
            organization=org, url="https://hooks.example.com/in", events=["value.changed"]
        )


def _delivery(endpoint, *, profile=None, status="sent", created_days=0, done_days=None):
    created = NOW - dt.timedelta(days=created_days)
    data = {"profile": str(profile.uuid), "new_value": "Baker"} if profile else {}
    delivery_id = uuid.uuid4()
    with scopes_disabled():
        return WebhookDelivery.objects.create(
            organization=endpoint.organization,
            endpoint=endpoint,
            key=f"webhook:{delivery_id}",
            uuid=delivery_id,
            event="value.changed",
            body=json.dumps({"id": str(delivery_id), "data": data}),
            profile_uuid=profile.uuid if profile else None,
            status=status,
            created_at=created,
            done_at=None if done_days is None else NOW - dt.timedelta(days=done_days),
        )


def _left() -> set[int]:
    with scopes_disabled():
        return set(WebhookDelivery.objects.values_list("pk", flat=True))


def test_deliveries_go_after_their_retention_and_the_sweep_is_idempotent(
    org, other_org, settings, time_machine
):
    time_machine.move_to(NOW, tick=False)
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    ours, theirs = _endpoint(org), _endpoint(other_org)
    _delivery(ours, created_days=40, done_days=31)
    _delivery(theirs, status="undeliverable", created_days=33, done_days=32)
    recent = _delivery(ours, created_days=40, done_days=29)
    queued = _delivery(ours, status="queued", created_days=2)
    # Never done, long after: a test event to an endpoint that never answered, say.
    _delivery(ours, status="queued", created_days=45)
    assert purge_deliveries() == 3
    assert _left() == {recent.pk, queued.pk}
    assert purge_deliveries() == 0
    with scopes_disabled():
        entries = {
            (entry.organization_id, entry.details["deliveries"])
            for entry in AuditEntry.objects.filter(action="api.webhook.deliveries_purged")
        }
    assert entries == {(org.pk, "2"), (other_org.pk, "1")}


def test_the_period_is_a_setting(org, settings, time_machine):
    time_machine.move_to(NOW, tick=False)
    endpoint = _endpoint(org)
    week_old = _delivery(endpoint, created_days=8, done_days=8)
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 30
    assert purge_deliveries() == 0
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 7
    assert purge_deliveries() == 1
    assert week_old.pk not in _left()


def test_the_api_app_declares_the_daily_sweep():
    entry = apps.get_app_config("api").beat_schedule()["api-webhook-retention"]
    assert isinstance(apps.get_app_config("api"), ApiConfig)
    assert entry["task"] == "api.tasks.purge_deliveries"


def test_erasure_deletes_the_person_s_deliveries_by_reference(org, owner):
    endpoint = _endpoint(org)
    gina = factories.contact(org, first_name="Gina", last_name="Gdpr")
    other = factories.contact(org, first_name="Olga", last_name="Other")
    _delivery(endpoint, profile=gina, status="queued")
    theirs = _delivery(endpoint, profile=other, status="queued")
    with scope(organization=org):
        erase_profile(gina, actor=Actor.member(owner))
    assert _left() == {theirs.pk}


def test_emitted_deliveries_carry_their_person(org, owner):
    from api import webhooks

    _endpoint(org)
    gina = factories.contact(org)
    with scopes_disabled():
        webhooks.emit(org.pk, "value.changed", [{"profile": str(gina.uuid), "new": "x"}])
        assert WebhookDelivery.objects.get().profile_uuid == gina.uuid


def test_the_migration_reads_the_person_from_older_bodies_exactly(org):
    migration = import_module("api.migrations.0004_audit_delivery_subject")
    endpoint = _endpoint(org)
    gina = factories.contact(org)
    with_person = _delivery(endpoint, profile=gina)
    without = _delivery(endpoint)
    with scopes_disabled():
        WebhookDelivery.objects.update(profile_uuid=None)
        migration.backfill(apps, None)
        found = dict(WebhookDelivery.objects.values_list("pk", "profile_uuid"))
    assert found == {with_person.pk: gina.uuid, without.pk: None}
