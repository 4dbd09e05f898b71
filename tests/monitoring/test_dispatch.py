from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem
from monitoring.dispatch import dispatch_due, open_run
from monitoring.models import GroupDue, UpdateGroup, UpdateRun
from tests import factories
from tests.conftest import need_service

NOW = dt.datetime(2024, 3, 5, 12, tzinfo=dt.UTC)


def _due_group(org, n_profiles=3, **kwargs):
    fields = [factories.field(org, "text"), factories.field(org, "document")]
    for i in range(n_profiles):
        factories.contact(org, email=f"c{i}@example.com")
    factories.contact(org, email="gone@example.com", archived_at=NOW)
    factories.company(org)
    group = factories.group(org, fields, **kwargs)
    with scopes_disabled():
        GroupDue.objects.filter(group=group).update(
            next_index=1, next_run_at=dt.datetime(2024, 2, 29, 7, tzinfo=dt.UTC)
        )
    return group


def _dispatch(now):
    """A dispatcher pass whose on-commit fan-out runs, as it would after a real commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return dispatch_due(now=now)


def _counts():
    with scopes_disabled():
        return Dossier.objects.count(), DossierItem.objects.count(), UpdateRun.objects.count()


@pytest.mark.django_db
def test_a_due_group_opens_one_dossier_per_active_profile_of_its_type(org):
    group = _due_group(org)
    run_ids = _dispatch(NOW)
    assert len(run_ids) == 1
    assert _counts() == (3, 6, 1)
    with scopes_disabled():
        run = UpdateRun.objects.get()
        group.refresh_from_db()
    assert (run.period, run.skipped, run.dossiers_opened) == (dt.date(2024, 2, 29), 0, 3)
    assert group.next_date == dt.date(2024, 3, 31)
    assert group.next_run_at == dt.datetime(2024, 3, 31, 6, tzinfo=dt.UTC)  # summer time


@pytest.mark.django_db
def test_dispatching_twice_in_a_row_changes_nothing(org):
    _due_group(org)
    _dispatch(NOW)
    assert _dispatch(NOW) == []
    with scopes_disabled():
        open_run(UpdateRun.objects.get().pk)  # a task delivered again
    assert _counts() == (3, 6, 1)


@pytest.mark.django_db
def test_after_downtime_one_run_for_the_latest_period_with_the_others_counted(org):
    group = _due_group(org)
    _dispatch(dt.datetime(2024, 7, 10, tzinfo=dt.UTC))
    with scopes_disabled():
        run = UpdateRun.objects.get()
        group.refresh_from_db()
    assert (run.period, run.skipped) == (dt.date(2024, 6, 30), 4)
    assert group.next_date == dt.date(2024, 7, 31)
    assert _counts()[0] == 3


@pytest.mark.django_db
def test_a_new_period_supersedes_the_unsubmitted_dossier(org):
    _due_group(org, n_profiles=1)
    _dispatch(NOW)
    _dispatch(dt.datetime(2024, 4, 1, tzinfo=dt.UTC))
    with scopes_disabled():
        old, new = Dossier.objects.order_by("period")
    assert (old.status, old.superseded_by_id, new.status) == ("superseded", new.pk, "open")


@pytest.mark.django_db
def test_paused_groups_are_not_dispatched(org):
    group = _due_group(org)
    with scopes_disabled():
        UpdateGroup.objects.filter(pk=group.pk).update(is_active=False)
    assert _dispatch(NOW) == []


@pytest.mark.django_db
def test_the_fan_out_queries_grow_with_chunks_not_profiles(org):
    group = _due_group(org, n_profiles=30)
    with scopes_disabled():
        GroupDue.objects.filter(group=group).update(next_index=1)
        dispatch_due(now=NOW, fan_out=False)
        run = UpdateRun.objects.get()
    with CaptureQueriesContext(connection) as one_chunk:
        open_run(run.pk, chunk_size=100)
    with scopes_disabled():
        Dossier.objects.all().delete()
    with CaptureQueriesContext(connection) as three_chunks:
        open_run(run.pk, chunk_size=11)
    per_chunk = (len(three_chunks) - len(one_chunk)) / 2
    assert per_chunk <= 12
    assert _counts()[0] == 30


@pytest.mark.django_db
def test_the_command_prints_what_it_opened(org, capsys):
    _due_group(org)
    call_command("dispatch_due")
    out = capsys.readouterr().out
    assert "acme" in out and "3 dossier(s) open" in out
    call_command("dispatch_due")
    assert "No update group is due." in capsys.readouterr().out


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_leave_no_duplicate_and_no_group_behind(org):
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    groups = [_due_group(org, n_profiles=0, title=f"G{i}") for i in range(20)]
    for i in range(5):
        factories.contact(org, email=f"p{i}@example.com")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            dispatch_due(now=NOW)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with scopes_disabled():
        assert UpdateRun.objects.count() == len(groups)
        assert Dossier.objects.count() == len(groups) * 5
        assert not GroupDue.objects.filter(next_run_at__lte=NOW).exists()
