"""Outgoing messages no other app holds go after their retention; those a dossier, an
invitation or a day's e-mail holds stay for that app to delete with what they belong to."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django_scopes import scopes_disabled

from organizations.models import Invitation, InvitationMessage
from outbox.models import DeliveryEvent, Message
from outbox.tasks import purge_messages

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 31, 12, tzinfo=dt.UTC)


def _message(org, key: str, *, status: str = "sent", created_days: int = 0, done_days=None):
    with scopes_disabled():
        return Message.objects.create(
            organization=org,
            key=key,
            kind="organizations.password_reset",
            address=f"{key}@example.com",
            status=status,
            created_at=NOW - dt.timedelta(days=created_days),
            done_at=None if done_days is None else NOW - dt.timedelta(days=done_days),
        )


def _left() -> set[str]:
    with scopes_disabled():
        return set(Message.objects.values_list("key", flat=True))


def test_messages_go_after_their_retention_and_the_sweep_is_idempotent(
    org, other_org, owner, settings, time_machine
):
    time_machine.move_to(NOW, tick=False)
    settings.OUTBOX_RETENTION_DAYS = 90
    old = _message(org, "old", created_days=100, done_days=91)
    _message(other_org, "refused", status="undeliverable", created_days=95, done_days=92)
    _message(None, "no-organisation", status="cancelled", created_days=120)
    _message(org, "recent", created_days=100, done_days=89)
    _message(org, "queued", status="queued", created_days=200)
    held = _message(org, "held", created_days=300, done_days=300)
    with scopes_disabled():
        DeliveryEvent.objects.create(
            organization=org, message=old, key="evt-1", service="test", kind="delivered"
        )
        invitation = Invitation.objects.create(
            organization=org,
            email="new@example.com",
            token_hash="h" * 64,
            invited_by=owner,
            expires_at=NOW,
        )
        InvitationMessage.objects.create(message=held, invitation=invitation)
    assert purge_messages() == 3
    assert _left() == {"recent", "queued", "held"}
    with scopes_disabled():
        assert not DeliveryEvent.objects.exists()
    assert purge_messages() == 0


def test_the_period_is_a_setting(org, settings, time_machine):
    time_machine.move_to(NOW, tick=False)
    _message(org, "week", created_days=8, done_days=8)
    settings.OUTBOX_RETENTION_DAYS = 90
    assert purge_messages() == 0
    settings.OUTBOX_RETENTION_DAYS = 7
    assert purge_messages() == 1
    assert _left() == set()


def test_the_outbox_declares_the_daily_sweep():
    entry = apps.get_app_config("outbox").beat_schedule()["outbox-retention"]
    assert entry["task"] == "outbox.tasks.purge_messages"
