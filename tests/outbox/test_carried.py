"""A message whose content goes out inside another one takes that one's outcome."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from django_scopes import scopes_disabled

from outbox import registry
from outbox.mail import queue, send_due
from outbox.models import Message

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 12, 31, 23, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _kinds():
    registry.register("test.carrier", lambda row: EmailMessage("All", "Body"), "Carrier")

    def carried(row: Message) -> registry.Carried:
        with scopes_disabled():
            return registry.Carried(Message.objects.get(key="carrier").pk)

    registry.register("test.carried", carried, "Carried")


def _row(key: str) -> Message:
    with scopes_disabled():
        return Message.objects.get(key=key)


def test_carried_messages_wait_for_their_carrier_and_take_its_outcome(org):
    with time_machine.travel(NOW, tick=False) as clock:
        queue(
            [
                Message(organization=org, key="carrier", kind="test.carrier", address="a@x.org"),
                Message(organization=org, key="one", kind="test.carried", address="a@x.org"),
                Message(organization=org, key="two", kind="test.carried", address="a@x.org"),
            ]
        )
        with scopes_disabled():
            Message.objects.filter(key="carrier").update(
                next_attempt_at=NOW + dt.timedelta(hours=1)
            )
        assert send_due() == 0
        waiting = _row("one")
        assert waiting.status == "queued" and waiting.attempts == 0  # waiting is no attempt
        assert waiting.next_attempt_at > NOW + dt.timedelta(hours=1)
        clock.shift(dt.timedelta(hours=2))
        assert send_due() == 1  # the carrier, then its two take its outcome
        assert len(mail.outbox) == 1
        carrier = _row("carrier")
        assert [(_row(k).status, _row(k).done_at) for k in ("one", "two")] == [
            ("sent", carrier.done_at)
        ] * 2


def test_a_carrier_gone_leaves_its_messages_no_longer_needed(org):
    with time_machine.travel(NOW, tick=False):
        queue([Message(organization=org, key="carrier", kind="test.carrier", address="a@x.org")])
        carrier_pk = _row("carrier").pk
        queue([Message(organization=org, key="one", kind="test.carried", address="a@x.org")])
        with scopes_disabled():
            Message.objects.filter(key="carrier").update(status="undeliverable", last_error="550")
        assert send_due() == 0
        assert (_row("one").status, _row("one").last_error) == ("undeliverable", "550")
        with scopes_disabled():
            Message.objects.filter(pk=carrier_pk).delete()
            Message.objects.filter(key="one").update(status="queued", next_attempt_at=NOW)
        registry.register("test.carried", lambda row: registry.Carried(carrier_pk), "Carried")
        assert send_due() == 0
        assert _row("one").status == "cancelled"
