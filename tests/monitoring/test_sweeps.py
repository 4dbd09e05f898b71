"""Runs always finish: with the broker down at dispatch, and with the fan-out task raising."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from config.celery import app
from dossiers.models import Dossier
from monitoring import dispatch
from monitoring.dispatch import dispatch_due, sweep_unfinished_runs
from monitoring.models import GroupDue, UpdateRun
from monitoring.tasks import open_run_dossiers
from profiles.models import Kind, Profile
from tests import factories
from tests.conftest import _free_port
from tests.workers import OwnRedis, broker_for_workers, on_broker, start_worker, worker_env


def _due_group(org, profiles: int):
    field = factories.field(org, "text")
    with scopes_disabled():
        Profile.objects.bulk_create(
            Profile(organization=org, kind=Kind.CONTACT, last_name=f"P{i}", email=f"{i}@x.org")
            for i in range(profiles)
        )
    group = factories.group(org, [field], start_date=dt.date(2024, 1, 31))
    with scopes_disabled():
        GroupDue.objects.filter(group=group).update(
            next_run_at=timezone.now() - dt.timedelta(minutes=1)
        )
    return group


def _opened(group) -> int:
    with scopes_disabled():
        return Dossier.objects.filter(update_group=group).count()


@pytest.mark.django_db
def test_the_sweep_takes_unfinished_runs_only_once_they_are_overdue(org, settings):
    group = _due_group(org, 3)
    [run_id] = dispatch_due(fan_out=False)
    now = timezone.now()
    assert sweep_unfinished_runs(now=now) == []  # just recorded: its task may be running
    later = now + dt.timedelta(seconds=settings.RUN_SWEEP_AFTER_SECONDS + 1)
    assert sweep_unfinished_runs(now=later) == [run_id]  # eager here: opened on the spot
    assert _opened(group) == 3
    assert sweep_unfinished_runs(now=later) == []  # finished: nothing more to do


@pytest.mark.django_db
def test_a_fan_out_task_that_raises_is_retried_and_the_run_finishes(org, monkeypatch):
    group = _due_group(org, 3)
    [run_id] = dispatch_due(fan_out=False)
    real, calls = dispatch.open_run, []

    def flaky(run_id: int) -> int:
        calls.append(run_id)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return real(run_id)

    monkeypatch.setattr(dispatch, "open_run", flaky)
    assert open_run_dossiers.apply(args=(run_id,), throw=False).successful()
    assert len(calls) == 2 and _opened(group) == 3


@pytest.mark.django_db
def test_a_fan_out_task_that_fails_for_good_is_finished_by_the_sweep(
    org, monkeypatch, settings, caplog
):
    group = _due_group(org, 3)
    [run_id] = dispatch_due(fan_out=False)
    real = dispatch.open_run

    def broken(run_id: int) -> int:
        raise ConnectionError("database went away")

    monkeypatch.setattr(dispatch, "open_run", broken)
    app.conf.task_eager_propagates = False  # as in a worker: the failure stays in the task
    assert open_run_dossiers.apply(args=(run_id,)).failed()  # every retry spent
    app.conf.task_eager_propagates = True
    assert _opened(group) == 0
    monkeypatch.setattr(dispatch, "open_run", real)
    with caplog.at_level(logging.WARNING):
        later = timezone.now() + dt.timedelta(seconds=settings.RUN_SWEEP_AFTER_SECONDS + 1)
        assert sweep_unfinished_runs(now=later) == [run_id]
    assert _opened(group) == 3
    with scopes_disabled():
        assert UpdateRun.objects.get(pk=run_id).finished_at is not None


@pytest.mark.django_db
def test_with_the_broker_unreachable_the_log_names_the_sweep(
    org, caplog, django_capture_on_commit_callbacks
):
    group = _due_group(org, 2)
    with (
        on_broker(f"redis://127.0.0.1:{_free_port()}/0"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        [run_id] = dispatch_due()
    assert _opened(group) == 0
    assert "the periodic sweep monitoring.tasks.sweep_unfinished_runs will retry" in caplog.text
    assert run_id in sweep_unfinished_runs(now=timezone.now() + dt.timedelta(hours=1))
    assert _opened(group) == 2


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_broker_down_at_dispatch_every_dossier_opened_once_it_is_back(org, tmp_path, settings):
    broker_for_workers()  # PostgreSQL for the worker; the broker is a Redis of this test's own
    redis = OwnRedis()
    redis.start()
    group = _due_group(org, 300)
    redis.stop()
    log = (tmp_path / "worker.log").open("w")
    worker = None
    try:
        with on_broker(redis.url):
            [run_id] = dispatch_due()  # commits; the fan-out cannot be enqueued
        assert _opened(group) == 0
        redis.start()
        env = worker_env(redis.url, EMAIL_HOST="")
        worker = start_worker(env, log, "--without-heartbeat", "--without-mingle")
        later = timezone.now() + dt.timedelta(seconds=settings.RUN_SWEEP_AFTER_SECONDS + 1)
        with on_broker(redis.url):
            assert sweep_unfinished_runs(now=later) == [run_id]
        deadline = time.monotonic() + 90
        while _opened(group) < 300 and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        log.close()
        redis.stop()
    assert _opened(group) == 300, (tmp_path / "worker.log").read_text()[-3000:]
    with scopes_disabled():
        assert UpdateRun.objects.get(pk=run_id).finished_at is not None
