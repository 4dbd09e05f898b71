"""The fan-out's queries per page of profiles, pinned: a page costs the same whatever its
size, and webhooks cost nothing per page when no endpoint listens."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from api.models import WebhookDelivery, WebhookEndpoint
from dossiers.models import Dossier, DossierItem
from monitoring import spread
from monitoring.dispatch import open_run
from monitoring.models import UpdateRun
from outbox.models import Message
from profiles.models import FieldValue, Profile
from tests import factories

PERIOD = dt.date(2024, 2, 29)
# On PostgreSQL a page is its ids and one statement (dossiers, items, invitations, their
# links to the dossiers and supersession as data-modifying CTEs); SQLite has no INSERT in a
# WITH: the ids, the dossiers, the items, the supersession, the invitations and their links
# (dossiers.DossierMessage, since the outbox names no dossier), one statement each. Then
# the compliance overview's cells of the page's profiles: on PostgreSQL one UPDATE of the
# cells the new requests ask for, on SQLite their recomputation (the groups that narrow
# their audience, an upsert and a delete).
PER_PAGE = 2 + 1 if connection.vendor == "postgresql" else 6 + 3
PER_RUN = 6


def _run(org, n_profiles: int):
    fields = [factories.field(org, "text"), factories.field(org, "document")]
    for i in range(n_profiles):
        factories.contact(org, email=f"c{i}@example.com")
    group = factories.group(org, fields)
    with scopes_disabled():
        return UpdateRun.objects.create(
            organization=org,
            group=group,
            period=PERIOD,
            index=1,
            due_at=dt.datetime(2024, 2, 29, 7, tzinfo=dt.UTC),
        )


def _queries(run_id: int, chunk_size: int) -> int:
    # The queries of each page's transaction; what runs once it commits (waking the outbox
    # drain, bumping the overview's version) is not counted here.
    with CaptureQueriesContext(connection) as captured:
        open_run(run_id, chunk_size=chunk_size)
    # Transaction control (savepoints of the per-page atomic blocks in a test) is not work.
    return sum(1 for q in captured.captured_queries if "SAVEPOINT" not in q["sql"])


@pytest.mark.django_db
def test_a_page_costs_the_same_queries_whatever_its_size_and_none_for_absent_webhooks(org):
    run = _run(org, 7)
    # Pages of 3, 3 and 1, each read with one id more, which tells the last page without
    # reading an empty one. Per run: the run, its fields, the endpoints of "dossier.sent"
    # once, the count, the finish and the "run.finished" event's endpoints.
    assert _queries(run.pk, chunk_size=3) == 3 * PER_PAGE + PER_RUN
    with scopes_disabled():
        assert Dossier.objects.count() == 7
        assert DossierItem.objects.count() == 14
        assert Message.objects.filter(kind="dossiers.invitation").count() == 7
        assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_with_an_endpoint_each_page_reads_its_dossiers_and_writes_their_deliveries(org):
    run = _run(org, 7)
    with scopes_disabled():
        WebhookEndpoint.objects.create(
            organization=org, url="https://example.com/hook", events=["dossier.sent"]
        )
    assert _queries(run.pk, chunk_size=3) == 3 * (PER_PAGE + 2) + PER_RUN
    with scopes_disabled():
        assert WebhookDelivery.objects.filter(event="dossier.sent").count() == 7


@pytest.mark.django_db
def test_a_repeat_opens_nothing_twice_and_queues_nothing_twice(org):
    run = _run(org, 5)
    open_run(run.pk, chunk_size=2)
    with scopes_disabled():
        UpdateRun.objects.filter(pk=run.pk).update(finished_at=None)
    open_run(run.pk, chunk_size=3)
    with scopes_disabled():
        assert Dossier.objects.count() == 5
        assert DossierItem.objects.count() == 10
        assert Message.objects.filter(kind="dossiers.invitation").count() == 5


@pytest.mark.django_db
def test_an_audience_costs_one_query_per_run_not_per_page(org):
    run = _run(org, 7)
    risk = factories.field(org, "choice", choices=["High", "Low"])
    with scopes_disabled():
        people = list(Profile.objects.filter(organization=org).order_by("id"))
        FieldValue.objects.bulk_create(
            FieldValue(organization=org, profile=p, field=risk, value="High" if i < 5 else "Low")
            for i, p in enumerate(people)
        )
        run.group.audience = [{"field": str(risk.uuid), "op": "eq", "value": "High"}]
        run.group.save()
    # Pages of 3 and 2 asked; the audience's fields read once, and on SQLite once more by
    # each page's recomputation of the cells (which asks the audience).
    again = 0 if connection.vendor == "postgresql" else 2
    assert _queries(run.pk, chunk_size=3) == 2 * PER_PAGE + PER_RUN + 1 + again
    with scopes_disabled():
        assert Dossier.objects.count() == 5


@pytest.mark.django_db
def test_a_spread_window_reads_only_the_days_come(org):
    run = _run(org, 7)
    with scopes_disabled():
        UpdateRun.objects.filter(pk=run.pk).update(spread_days=3, period=dt.date(2024, 2, 28))
    # 28 February 2024 is a Wednesday: its window is the 28th, the 29th and 1 March.
    with time_machine.travel(dt.datetime(2024, 2, 29, 9, tzinfo=dt.UTC), tick=False):
        open_run(run.pk, chunk_size=3)
    with scopes_disabled():
        opened = set(Dossier.objects.values_list("profile__uuid", flat=True))
        everyone = set(Profile.objects.filter(organization=org).values_list("uuid", flat=True))
        assert UpdateRun.objects.get(pk=run.pk).finished_at is not None
    assert opened == {u for u in everyone if spread.day_of(u, 3) in (0, 1)}


@pytest.mark.django_db
def test_a_run_of_one_page_is_one_transaction_with_its_bookkeeping(org):
    run = _run(org, 7)
    with CaptureQueriesContext(connection) as captured:
        open_run(run.pk, chunk_size=7)
    # Inside the test's own transaction each transaction of the run is a savepoint: one for
    # the run's read, its page and its finish together.
    assert sum(q["sql"].startswith("SAVEPOINT") for q in captured.captured_queries) == 1
    with scopes_disabled():
        finished = UpdateRun.objects.get(pk=run.pk)
    assert finished.finished_at is not None
    assert finished.dossiers_opened == 7
