"""The outbox's claim → send → mark, on the test mail backend."""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
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


def test_the_organisations_waiting_come_longest_waiting_first_with_rows_of_none(org, other_org):
    """Each organisation with a row due, by its oldest due row; the rows of no organisation
    (a password reset) take their turn too; rows leased or waiting for their retry do not
    count, nor do rows sent."""
    from organizations.models import Organization

    now = timezone.now()
    later = Organization.objects.create(name="Later", slug="later")
    idle = Organization.objects.create(name="Idle", slug="idle")
    with scopes_disabled():
        rows = [
            (org, now - dt.timedelta(minutes=5), Message.Status.QUEUED),
            (org, now - dt.timedelta(minutes=1), Message.Status.QUEUED),
            (None, now - dt.timedelta(minutes=3), Message.Status.QUEUED),
            (other_org, now - dt.timedelta(minutes=9), Message.Status.SENT),
            (other_org, now - dt.timedelta(minutes=2), Message.Status.QUEUED),
            (later, now - dt.timedelta(minutes=7), Message.Status.QUEUED),
            # Leased by a worker, or waiting for its retry: not due yet.
            (idle, now + dt.timedelta(minutes=1), Message.Status.QUEUED),
        ]
        Message.objects.bulk_create(
            Message(
                organization=owner,
                key=f"w:{i}",
                kind="test.plain",
                address=f"w{i}@x.org",
                next_attempt_at=at,
                status=status,
            )
            for i, (owner, at, status) in enumerate(rows)
        )
    waiting = claims.waiting_organizations(Message, now, 10)
    assert waiting == [later.pk, org.pk, None, other_org.pk]
    assert claims.waiting_organizations(Message, now, 2) == [later.pk, org.pk]
    assert claims.waiting_organizations(Message, now - dt.timedelta(minutes=8), 10) == []


def test_the_claim_probes_each_organisation_rather_than_reading_every_due_row(org, other_org):
    """On PostgreSQL the organisations waiting are found through the `…_due_org` index, a
    probe each: the plan reads no due row beyond the first of each organisation."""
    if connection.vendor != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    _queue(other_org, 3, "b")
    with connection.cursor() as cursor:
        # A backlog large enough for the planner to plan as it would in production.
        cursor.execute(
            "INSERT INTO outbox_message (organization_id, key, status, attempts,"
            " next_attempt_at, last_error, created_at, kind, address, language, provider_id)"
            " SELECT %s, 'a:' || n, 'queued', 0, now() - interval '1 hour', '', now(),"
            " 'test.plain', 'a' || n || '@x.org', '', '' FROM generate_series(1, 20000) n",
            [org.pk],
        )
        cursor.execute("ANALYZE outbox_message")
    plans: list[str] = []

    def explain(execute, sql, params, many, context):
        if "WITH RECURSIVE waiting" in sql and not sql.startswith("EXPLAIN"):
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, FORMAT TEXT) {sql}", params)
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(explain):
        assert claims.waiting_organizations(Message, timezone.now(), 10) == [org.pk, other_org.pk]
    [plan] = plans
    # Grouping read all 20,003 rows; the probes read a handful each.
    read = [int(n) for n in re.findall(r"actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)]
    removed = [int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", plan)]
    assert max(read) < 10 and sum(removed) < 10, plan
