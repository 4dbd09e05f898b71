"""The outbox's claim → send → mark, on the test mail backend."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.messages import INVITATION
from dossiers.models import Dossier
from outbox import claims, registry
from outbox.mail import queue, send_due
from outbox.models import Message
from tests import factories

pytestmark = pytest.mark.django_db


def _queue(org, count: int, prefix: str) -> None:
    queue(
        Message(
            organization=org, key=f"{prefix}:{i}", kind="test.plain", address=f"{prefix}{i}@x.org"
        )
        for i in range(count)
    )


@pytest.fixture(autouse=True)
def _plain_kind():
    from django.core.mail import EmailMessage

    registry.register("test.plain", lambda row: EmailMessage("Hello", "Body"), "Plain")


def test_batches_are_fair_across_organisations(org, other_org):
    _queue(org, 300, "a")
    _queue(other_org, 3, "b")
    with scopes_disabled():
        claimed = claims.claim(Message, timezone.now(), 100)
        by_org = list(Message.objects.filter(pk__in=claimed).values_list("organization", flat=True))
    assert len(claimed) <= 100
    assert by_org.count(other_org.pk) == 3  # the small tenant is not stuck behind the big one


def test_a_message_written_twice_is_one_row_and_one_e_mail(org):
    _queue(org, 1, "same")
    _queue(org, 1, "same")
    assert send_due() == 1
    assert len(mail.outbox) == 1


def test_a_claimed_message_whose_worker_died_comes_due_again_after_the_lease(org, settings):
    _queue(org, 1, "lease")
    now = timezone.now()
    with scopes_disabled():
        [claimed] = claims.claim(Message, now, 10)  # the worker dies before sending
        assert claims.claim(Message, now + dt.timedelta(seconds=5), 10) == []
        later = now + dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS + 1)
        assert claims.claim(Message, later, 10) == [claimed]
        assert Message.objects.get().attempts == 2


def test_an_invitation_to_a_dossier_closed_meanwhile_is_not_sent(org):
    field = factories.field(org, "text")
    dossier = factories.dossier(org, factories.contact(org), [field])
    with scopes_disabled():
        Dossier.objects.filter(pk=dossier.pk).update(status="expired")
    assert send_due() == 0
    assert not mail.outbox
    with scopes_disabled():
        assert Message.objects.get(kind=INVITATION).status == "cancelled"


def test_a_message_that_cannot_be_rendered_costs_only_itself(org):
    def broken(row):
        raise RuntimeError("template bug")

    registry.register("test.broken", broken, "Broken")
    queue([Message(organization=org, key="broken", kind="test.broken", address="b@x.org")])
    _queue(org, 2, "fine")
    assert send_due() == 2
    with scopes_disabled():
        failed = Message.objects.get(key="broken")
    assert failed.status == "queued" and "template bug" in failed.last_error


def test_temporary_failures_back_off_then_give_up_as_undeliverable(org, settings):
    assert [claims.backoff(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert claims.backoff(50).total_seconds() == settings.OUTBOX_RETRY_MAX_SECONDS
    _queue(org, 1, "flaky")
    with scopes_disabled():
        row = Message.objects.get()
        given_up = claims.mark_retry(
            Message, [(row.pk, settings.OUTBOX_MAX_ATTEMPTS)], "451 busy", timezone.now()
        )
        row.refresh_from_db()
    assert given_up == 1 and row.status == "undeliverable"


@pytest.mark.django_db(transaction=True)
def test_a_second_drain_at_the_same_moment_skips_the_rows_the_first_holds(org):
    """On PostgreSQL: claims take SKIP LOCKED, so two workers never send the same rows."""
    from django.db import connection, connections

    from tests.conftest import need_service

    need_service(connection.vendor == "postgresql", "PostgreSQL")
    with scopes_disabled():  # written without waking the (eager) drain
        Message.objects.bulk_create(
            Message(organization=org, key=f"lock:{i}", kind="test.plain", address=f"{i}@x.org")
            for i in range(10)
        )
    holding, release = threading.Event(), threading.Event()

    def first_worker() -> None:
        with scopes_disabled(), transaction.atomic():
            list(
                Message.objects.filter(key__in=[f"lock:{i}" for i in range(4)])
                .select_for_update()
                .values_list("pk", flat=True)
            )
            holding.set()
            release.wait(10)
        connections.close_all()

    thread = threading.Thread(target=first_worker)
    thread.start()
    try:
        assert holding.wait(10)
        with scopes_disabled():
            claimed = claims.claim(Message, timezone.now(), 100)
            keys = set(Message.objects.filter(pk__in=claimed).values_list("key", flat=True))
    finally:
        release.set()
        thread.join()
    assert keys == {f"lock:{i}" for i in range(4, 10)}


def test_cron_only_installs_send_the_outbox_with_a_command(org, capsys):
    _queue(org, 2, "cron")
    call_command("send_messages")
    assert "2 e-mail(s) sent." in capsys.readouterr().out
    assert len(mail.outbox) == 2
