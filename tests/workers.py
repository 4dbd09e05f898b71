"""Real Celery processes for the tests that need them, on the test database and broker."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO
from unittest import mock

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
        # As in the test process (tests/conftest.py): invitations go out at once.
        "DOSSIERS_DAILY_SETTLE_SECONDS": "0",
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


class OwnRedis:
    """A Redis server of the test's own, on a port of its own, that the test may stop and
    start again (never the machine's shared one)."""

    def __init__(self) -> None:
        from tests.conftest import _free_port

        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import shutil
        import time

        from tests.conftest import need_service

        binary = shutil.which("redis-server")
        need_service(binary is not None, "redis-server")
        options = ["--port", str(self.port), "--bind", "127.0.0.1"]
        options += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [binary, *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            if redis_up(self.url):
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def on_broker(url: str) -> Iterator[None]:
    """Tasks of this process go to `url` for real (not eagerly), through fresh connections."""
    from config.celery import app

    def forget_connections() -> None:
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_url
    app.conf.task_always_eager = False
    app.conf.broker_url = url
    forget_connections()
    try:
        # Celery reads the variable before its configuration: CI sets it.
        with mock.patch.dict(os.environ, {"CELERY_BROKER_URL": url}):
            yield
    finally:
        app.conf.broker_url = previous
        app.conf.task_always_eager = True
        forget_connections()
