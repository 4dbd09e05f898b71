"""A real Celery worker and beat, on the Redis broker, dispatch a due group end to end."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from monitoring.models import GroupDue
from tests import factories
from tests.workers import broker_for_workers, start_worker, worker_env


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_worker_and_beat_dispatch_a_due_group(org, tmp_path):
    broker = broker_for_workers()
    field = factories.field(org, "text")
    for i in range(3):
        factories.contact(org, email=f"w{i}@example.com")
    group = factories.group(org, [field], start_date=dt.date(2024, 1, 31))
    with scopes_disabled():
        GroupDue.objects.filter(group=group).update(
            next_run_at=dt.datetime(2024, 1, 31, 7, tzinfo=dt.UTC)
        )
    env = worker_env(broker, DISPATCH_INTERVAL_SECONDS="1", EMAIL_HOST="")
    log = (tmp_path / "celery.log").open("w")
    worker = start_worker(env, log, "--beat", "-s", str(tmp_path / "beat"))
    try:
        deadline = time.monotonic() + 90
        count = 0
        while time.monotonic() < deadline:
            with scopes_disabled():
                count = Dossier.objects.filter(update_group_id=group.pk).count()
            if count == 3:
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert count == 3, (tmp_path / "celery.log").read_text()[-3000:]
