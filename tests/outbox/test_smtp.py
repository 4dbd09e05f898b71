"""The outbox against a real SMTP server that refuses an address and goes down."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from django.core.mail import get_connection
from django.db import connection as db_connection
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.opening import open_dossiers
from monitoring.dispatch import dispatch_due, open_run
from monitoring.models import GroupDue
from outbox.mail import message_id, send_due
from outbox.models import Message
from profiles.models import Kind, Profile
from tests import factories

pytestmark = pytest.mark.django_db


def _invite(org, addresses: list[str]) -> list[int]:
    field = factories.field(org, "text")
    with scopes_disabled():
        profiles = Profile.objects.bulk_create(
            Profile(organization=org, kind=Kind.CONTACT, email=address, language="en")
            for address in addresses
        )
        return open_dossiers(
            org, [p.pk for p in profiles], [field], kind="classic", title="Annual review"
        )


def test_199_of_200_invitations_are_delivered_once_and_the_refused_one_is_shown(
    org, owner_client, smtp
):
    assert get_connection().__class__.__module__ == "django.core.mail.backends.smtp"
    addresses = [f"client{i}@example.com" for i in range(200)]
    smtp.handler.refused.add("client57@example.com")
    dossier_ids = _invite(org, addresses)

    assert send_due() == 199
    assert send_due() == 0
    counts = smtp.handler.counts()
    assert set(counts) == set(addresses) - {"client57@example.com"}
    assert set(counts.values()) == {1}
    with scopes_disabled():
        refused = Message.objects.get(address="client57@example.com")
        assert refused.status == "undeliverable" and "550" in refused.last_error
        assert Message.objects.filter(status="sent").count() == 199
        dossier = refused.dossier_link.dossier
    # One bad address never held the others back, and staff see it on the dossier.
    page = owner_client.get(f"/o/{org.slug}/dossiers/{dossier.uuid}/").text
    assert "client57@example.com" in page and "Undeliverable" in page and "550" in page
    assert dossier.pk in dossier_ids


def test_smtp_down_two_minutes_then_back_delivers_everything_once(org, smtp):
    addresses = [f"c{i}@example.com" for i in range(30)]
    _invite(org, addresses)
    start = timezone.now()
    smtp.stop()
    assert send_due(now=start) == 0
    assert send_due(now=start + dt.timedelta(minutes=1)) == 0
    with scopes_disabled():
        assert set(Message.objects.values_list("status", "attempts")) == {("queued", 2)}
        assert "Connection refused" in Message.objects.first().last_error
    smtp.start()  # two minutes later
    # The backoff (one minute, then two) holds the next attempt to three minutes in.
    assert send_due(now=start + dt.timedelta(minutes=2)) == 0
    assert send_due(now=start + dt.timedelta(minutes=3)) == 30
    assert send_due(now=start + dt.timedelta(hours=1)) == 0
    counts = smtp.handler.counts()
    assert set(counts) == set(addresses) and set(counts.values()) == {1}


def test_a_temporary_refusal_is_retried_for_its_own_message_only(org, smtp):
    addresses = [f"t{i}@example.com" for i in range(5)]
    smtp.handler.deferred.add("t2@example.com")
    _invite(org, addresses)
    start = timezone.now()
    assert send_due(now=start) == 4
    with scopes_disabled():
        deferred = Message.objects.get(address="t2@example.com")
    assert deferred.status == "queued" and "451" in deferred.last_error
    smtp.handler.deferred.clear()
    assert send_due(now=start + dt.timedelta(minutes=2)) == 1
    assert set(smtp.handler.counts().values()) == {1}


@pytest.mark.django_db(transaction=True)
def test_each_mark_is_committed_before_the_next_messages_data_reaches_the_server(org, smtp):
    """The drain prepares a message while the server reads the one before, and writes a
    mark while the next envelope goes out; yet when the server holds a message's data, every
    message before it is marked sent for any other connection to see."""
    marked_before: list[int] = []

    def count_marked() -> None:
        with scopes_disabled():
            marked_before.append(Message.objects.filter(status="sent").count())
        db_connection.close()

    def on_data(received: int) -> None:
        # The server's loop runs no database code: a thread of its own reads.
        reader = threading.Thread(target=count_marked)
        reader.start()
        reader.join()

    smtp.handler.on_data = on_data
    _invite(org, [f"m{i}@example.com" for i in range(6)])  # its commit wakes the drain
    send_due()
    assert marked_before == [0, 1, 2, 3, 4, 5]
    with scopes_disabled():
        assert Message.objects.filter(status="sent").count() == 6


def test_every_attempt_of_a_message_carries_the_same_message_id(org, smtp):
    _invite(org, ["one@example.com"])
    send_due()
    [(_address, received)] = smtp.handler.received
    with scopes_disabled():
        assert received["Message-ID"] == message_id(Message.objects.get().key)


def test_a_member_invitation_with_smtp_down_is_no_500_and_goes_out_later(
    org, owner_client, smtp, django_capture_on_commit_callbacks
):
    smtp.stop()
    # After the commit the drain is woken (eagerly here) and finds the server down.
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"/o/{org.slug}/settings/members/", {"email": "new@example.com", "role": "staff"}
        )
    assert response.status_code == 302
    page = owner_client.get(f"/o/{org.slug}/settings/").text
    assert "new@example.com" in page and "Invitation waiting to be sent" in page
    smtp.start()
    assert send_due(now=timezone.now() + dt.timedelta(minutes=2)) == 1
    [(address, message)] = smtp.handler.received
    assert address == "new@example.com"
    link = re.search(r"http://\S+(/invitation/\S+/)", message.get_payload(decode=True).decode())
    assert Client().get(link.group(1)).status_code in (200, 302)  # the link works
    assert "Invitation waiting" not in owner_client.get(f"/o/{org.slug}/settings/").text


def test_a_refused_member_invitation_is_shown_on_the_member_list(org, owner_client, smtp):
    smtp.handler.refused.add("nobody@example.com")
    owner_client.post(
        f"/o/{org.slug}/settings/members/", {"email": "nobody@example.com", "role": "staff"}
    )
    send_due()
    assert "Invitation undeliverable" in owner_client.get(f"/o/{org.slug}/settings/").text


def test_a_runs_undeliverable_invitations_are_counted_in_its_follow_up(org, owner_client, smtp):
    field = factories.field(org, "text")
    for address in ("good@example.com", "bad@example.com"):
        factories.contact(org, email=address)
    group = factories.group(org, [field])
    with scopes_disabled():
        GroupDue.objects.filter(group=group).update(
            next_run_at=timezone.now() - dt.timedelta(minutes=1)
        )
    smtp.handler.refused.add("bad@example.com")
    [run_id] = dispatch_due(fan_out=False)
    open_run(run_id)
    assert send_due() == 1
    page = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/")
    [run] = page.context["runs"]
    assert run.undeliverable == 1
    assert "Undeliverable e-mails" in page.text
