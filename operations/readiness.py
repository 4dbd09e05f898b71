"""Whether this process can serve: the database, the broker and storage, each answered
within a short timeout (`READINESS_TIMEOUT_SECONDS`, 2 s by default).

Each check opens a connection of its own with that timeout on the socket, and all three run
side by side in threads that the caller waits for no longer than the timeout: a dependency
that accepts connections and never answers (a frozen server) is reported as timed out, and
`/readyz` answers in about the timeout whatever hangs. The checks never use the request's
own database connection, whose waits are the application's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connections

OK = "ok"
TIMED_OUT = "timed out"


@dataclass(frozen=True)
class Check:
    name: str
    state: str

    @property
    def ok(self) -> bool:
        return self.state == OK


def timeout() -> float:
    return float(getattr(settings, "READINESS_TIMEOUT_SECONDS", 2))


def check_database() -> None:
    """A connection of its own to the default database, then `SELECT 1`."""
    current = connections[DEFAULT_DB_ALIAS]
    params: dict[str, Any] = {
        **current.settings_dict,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
    }
    if current.vendor == "postgresql":
        # libpq's own wait for the server (psycopg's minimum is 2 s).
        params["OPTIONS"] = {
            **params.get("OPTIONS", {}),
            "connect_timeout": max(2, round(timeout())),
        }
    own = type(current)(params, DEFAULT_DB_ALIAS)
    try:
        with own.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        own.close()


def check_broker() -> None:
    """Redis answers PING; the folder broker's folders are writable."""
    from celery import current_app

    url = str(current_app.conf.broker_url or "")
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout(), socket_timeout=timeout()
        )
        try:
            client.ping()
        finally:
            client.close()
    elif url.startswith("filesystem://"):
        options = current_app.conf.broker_transport_options or {}
        for key in ("data_folder_in", "data_folder_out"):
            folder = options.get(key)
            if folder and not os.access(folder, os.W_OK):
                raise OSError(f"{folder} is not writable")
    elif not url.startswith("memory://"):
        from kombu import Connection

        with Connection(url, connect_timeout=timeout()) as broker:
            broker.ensure_connection(max_retries=1, timeout=timeout())


def check_storage() -> None:
    """S3 answers HEAD on the bucket; a folder on disk is writable (or can be created)."""
    storage: Any = default_storage
    bucket = getattr(storage, "bucket_name", None)
    if bucket:
        from botocore.config import Config

        client = storage._create_session().client(
            "s3",
            region_name=storage.region_name,
            endpoint_url=storage.endpoint_url,
            use_ssl=storage.use_ssl,
            verify=storage.verify,
            config=Config(
                connect_timeout=timeout(),
                read_timeout=timeout(),
                retries={"mode": "standard", "max_attempts": 1},
            ),
        )
        client.head_bucket(Bucket=bucket)
        return
    location = Path(getattr(storage, "location", settings.MEDIA_ROOT))
    while not location.exists() and location != location.parent:
        location = location.parent
    if not os.access(location, os.W_OK):
        raise OSError(f"{location} is not writable")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


def _run(check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as error:
        return f"unavailable ({type(error).__name__})"
    return OK


def check_all(names: tuple[str, ...] = tuple(CHECKS)) -> list[Check]:
    """The checks named, side by side; one still running after the timeout is timed out."""
    # Not `with`: leaving the block would wait for a hung check, which is what this avoids.
    pool = ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="readiness")
    try:
        futures = {name: pool.submit(_run, CHECKS[name]) for name in names}
        # A little over the sockets' timeout, so that a check they end is reported as theirs.
        end = time.monotonic() + timeout() + 0.5
        results = []
        for name, future in futures.items():
            try:
                state = future.result(timeout=max(0.0, end - time.monotonic()))
            except FutureTimeout:
                state = TIMED_OUT
            results.append(Check(name, state))
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
