"""Real Celery processes for the tests that need them, on the test database and broker."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import IO

from django.conf import settings
from django.db import connection


def redis_up(url: str) -> bool:
    if not url.startswith("redis://"):
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def worker_env(broker: str, **extra: str) -> dict[str, str]:
    """The environment of a worker that sees this test's database, with an emptied queue."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        **extra,
    }
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "purge", "-f"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        check=False,
        timeout=60,
    )
    return env


def start_worker(env: dict[str, str], log: IO[str], *options: str) -> subprocess.Popen:
    """A worker in a session of its own, so that it and its pool can be killed together."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency=1",
            "--loglevel=INFO",
            *options,
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def broker_for_workers() -> str:
    """The broker of the real-worker tests: they need PostgreSQL and Redis (CI's leg)."""
    from tests.conftest import need_service

    broker = os.environ.get("CELERY_BROKER_URL", "")
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    need_service(redis_up(broker), "Redis")
    return broker
