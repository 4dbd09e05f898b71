"""A real Celery worker and beat, on the Redis broker, dispatch a due group end to end."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from monitoring.models import UpdateGroup
from tests import factories
from tests.conftest import need_service


def _redis_up(url: str) -> bool:
    if not url.startswith("redis://"):
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_worker_and_beat_dispatch_a_due_group(org, tmp_path):
    broker = os.environ.get("CELERY_BROKER_URL", "")
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    need_service(_redis_up(broker), "Redis")
    field = factories.field(org, "text")
    for i in range(3):
        factories.contact(org, email=f"w{i}@example.com")
    group = factories.group(org, [field], start_date=dt.date(2024, 1, 31))
    with scopes_disabled():
        UpdateGroup.objects.filter(pk=group.pk).update(
            next_run_at=dt.datetime(2024, 1, 31, 7, tzinfo=dt.UTC)
        )
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "DISPATCH_INTERVAL_SECONDS": "1",
        "EMAIL_HOST": "",
    }
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        check=False,
        timeout=60,
    )
    log = (tmp_path / "celery.log").open("w")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--beat",
            "--concurrency=1",
            "--loglevel=INFO",
            "-s",
            str(tmp_path / "beat"),
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
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
