"""What every section uses: the Django setup, counting queries, timing, memory, tables."""

from __future__ import annotations

import contextlib
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

# The gunicorn of the page benchmark must read the sessions this process signs.
BENCH_SECRET_KEY = "bench-only-" + "k" * 60


def setup(media: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # Set here, not on import: the test of the report's prose imports this module.
    os.environ["SECRET_KEY"] = BENCH_SECRET_KEY
    # As in production: with DEBUG on, Django keeps every query's SQL, which is time and memory.
    os.environ["DEBUG"] = "0"
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["MEDIA_ROOT"] = str(media)
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    # As on the benchmark's server (bench/settings.py): the project's URLs and the ceiling.
    settings.ROOT_URLCONF = "bench.urls"


class QueryCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable, sql: str, params: Any, many: bool, context: Any):
        self.count += 1
        return execute(sql, params, many, context)


@contextlib.contextmanager
def measured() -> Iterator[dict[str, float]]:
    from django.db import connection

    counter = QueryCounter()
    result: dict[str, float] = {}
    start = time.perf_counter()
    with connection.execute_wrapper(counter):
        yield result
    result["seconds"] = time.perf_counter() - start
    result["queries"] = counter.count


def peak_memory(function: Callable[[], Any]) -> float:
    """Peak of Python allocations during the call, in MB (tracemalloc)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def reset_database() -> None:
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)


def truncate(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")
        else:
            for table in tables:
                cursor.execute(f"DELETE FROM {table}")


def analyze(vacuum: bool = False) -> None:
    """Fresh planner statistics, as autovacuum keeps them on a live database; with `vacuum`,
    the visibility map too, which index-only scans read (autovacuum sets it after inserts).

    Only the tables that hold rows. A table analysed empty is planned as empty by every
    statement of the session that follows, however much it grows: the foreign-key checks of
    the rows a measure then inserts into it keep a sequential scan of it for the whole
    session, a cost that grows with each row (a morning's 40,000 requests of the day spent
    half their time there). On a live database autovacuum never analyses a table nobody
    wrote to, and re-analyses one as it grows; the benchmark's server runs without it, so
    an empty table is left as a new one is, which the planner takes for a few pages."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()"
        )
        tables = [name for (name,) in cursor.fetchall()]
        filled = []
        for table in tables:
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {table})")
            if (cursor.fetchone() or [False])[0]:
                filled.append(table)
        if filled:
            cursor.execute(f"{'VACUUM ANALYZE' if vacuum else 'ANALYZE'} {', '.join(filled)}")


def clear_dossiers() -> None:
    tables = ("dossiers_dossieritem", "dossiers_accesstoken", "outbox_message", "dossiers_dossier")
    truncate(*tables)
    # Statistics that say "empty" rather than none at all, the exception to `analyze`: with
    # none, PostgreSQL planned the overview cells' UPDATE of each page by the items of a
    # field (every item of the run so far) instead of those of the page. The foreign-key
    # checks into these tables, which `analyze` warns of, stayed on their indexes in the
    # fan-out's runs (PostgreSQL's counts of sequential scans of them stay at a few hundred
    # rows a scan, where the requests of the day read billions).
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")


def median(measures: list[dict[str, float]]) -> dict[str, float]:
    return sorted(measures, key=lambda m: m["seconds"])[len(measures) // 2]


def settings_chunk() -> int:
    from django.conf import settings

    return int(settings.MONITORING_CHUNK_SIZE)
