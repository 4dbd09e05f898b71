"""Benchmarks at scale, each figure beside the naive way and the database's floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python -m bench [--small]
        [--section fan-out|dispatcher|pages|purge|email|export|scale-out|import|schedules|daily
                   |history] [--save FILE]
    python -m bench --report-from FILE [FILE …] [--output PATH] [--conditions TEXT]

Builds synthetic data in the database named by DATABASE_URL (its tables are dropped and
migrated afresh: use a database of its own), measures, prints each section's table as it
finishes and, after a full run, rewrites the generated part of docs/PERFORMANCE.md
(bench/report.py). A full run measures every section, the ten years of history (minutes of
seeding) and the requests of the day included. `--section` runs some only and writes no
report; `--save` keeps the figures, with each section's load average and the machine, and
`--report-from` writes the report from such files, measuring nothing, once they hold every
section between them (a later file's section wins). `--small` runs a few hundred rows in
seconds, for the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from bench.common import reset_database, setup
from bench.report import RENDERERS, REPORT, Gathered, gather, machine_line, write_report
from bench.sections import SECTIONS
from bench.sections.daily import bench_daily
from bench.sections.dispatcher import bench_dispatcher
from bench.sections.email import bench_email
from bench.sections.export import bench_export
from bench.sections.fanout import bench_fan_out
from bench.sections.history import bench_history
from bench.sections.imports import bench_import
from bench.sections.pages import bench_pages
from bench.sections.purge import bench_purge
from bench.sections.scaleout import BENCH_REDIS_URL, bench_scale_out
from bench.sections.schedules import bench_schedules


class MissingPrerequisite(SystemExit):
    pass


def create_database_if_missing() -> None:
    """A fresh machine's PostgreSQL has no `bench` database: the benchmark makes its own,
    as Django's test runner does, rather than failing on it."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    import psycopg
    from psycopg import errors, sql

    params = connection.get_connection_params()
    name = params.pop("dbname", None)
    for key in ("cursor_factory", "context"):
        params.pop(key, None)
    if not name:
        return
    try:
        psycopg.connect(dbname=name, **params).close()
    except psycopg.OperationalError:
        # Asked of the server rather than read from its message, which may be translated.
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                raise
            with contextlib.suppress(errors.DuplicateDatabase):  # another run made it first
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        print(f"bench: created the database {name!r}", flush=True)


def check_prerequisites(sections: list[str]) -> None:
    """Fails in a second with what is missing, before any data is built."""
    problems = []
    if "pages" in sections:
        for tool in ("wrk", "curl"):
            if shutil.which(tool) is None:
                problems.append(
                    f"`{tool}` is not on PATH: the pages section needs it"
                    f" (Debian: apt-get install {tool}), or leave that section out."
                )
    if "scale-out" in sections:
        import redis

        try:
            redis.Redis.from_url(BENCH_REDIS_URL, socket_connect_timeout=2).ping()
        except (redis.RedisError, ValueError) as error:
            problems.append(
                f"Redis at BENCH_REDIS_URL ({BENCH_REDIS_URL}) is unreachable: {error}; the"
                " scale-out section starts Celery workers on it (set BENCH_REDIS_URL to a"
                " database of its own), or leave that section out."
            )
    from django.db import connection

    try:
        create_database_if_missing()
        connection.ensure_connection()
    except Exception as error:  # any failure to connect reads the same to the user
        problems.append(f"The database of DATABASE_URL is unreachable: {error}".strip())
    else:
        if connection.vendor != "postgresql":
            problems.append(
                "The benchmark measures PostgreSQL: set DATABASE_URL (or BENCH_DATABASE_URL"
                " for `make bench`) to postgres://…/<a database of its own>."
            )
    if problems:
        raise MissingPrerequisite("bench: cannot start.\n  " + "\n  ".join(problems))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--section",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeatable); the report is written only by a full run",
    )
    parser.add_argument(
        "--daily-sizes",
        nargs="+",
        default=["10000/4000", "100000/40000"],
        help="requests/recipients of the requests of the day's section",
    )
    parser.add_argument(
        "--history-sizes",
        nargs="+",
        default=["100000/100000", "10000000/5000000"],
        help="rows of value history/audit entries of the ten years' section, in order",
    )
    parser.add_argument("--save", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--report-from",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="write the report from figures saved by --save, measuring nothing; a later"
        " file's section wins, and every section must be in one of them",
    )
    parser.add_argument(
        "--output", type=Path, default=REPORT, help="the report to rewrite (%(default)s)"
    )
    parser.add_argument(
        "--conditions",
        default="",
        help="what the runs shared the machine with, said in the report's first paragraph"
        " (else, with --report-from, the files' own `conditions`)",
    )
    args = parser.parse_args(argv)
    sections = args.section or SECTIONS
    if args.report_from:
        gathered = gather(args.report_from)  # fails before Django starts, in a second
        gathered.conditions = args.conditions or gathered.conditions
        # Django, for the database's version when the files do not say the machine.
        setup(Path(tempfile.gettempdir()))
        from django.db import connection

        write_report(gathered, connection.vendor, path=args.output)
        print(f"bench: wrote {args.output} from {gathered.runs} run(s)", flush=True)
        return gathered.results
    media = Path(tempfile.mkdtemp(prefix="bench-media-"))
    setup(media)
    check_prerequisites(sections)
    from django.db import connection
    from django_scopes import scopes_disabled

    small = args.small
    runners: dict[str, Callable[[], Any]] = {
        "fan-out": lambda: bench_fan_out(
            [100, 300] if small else [1000, 100000, 1000000], naive_limit=100 if small else 2000
        ),
        "dispatcher": lambda: bench_dispatcher(
            [(10, 100), (20, 200)] if small else [(1000, 100_000), (10_000, 1_000_000)],
            [100, 200] if small else [50_000, 100_000],
            # A crontab entry costs beat ten times an interval one: smaller sizes suffice.
            [50, 100] if small else [2_000, 5_000],
            due_every=10 if small else 100,
        ),
        "pages": lambda: bench_pages(3 if small else 10, small, media),
        "purge": lambda: bench_purge(*((200, 2) if small else (100000, 1))),
        "email": lambda: bench_email([50, 200] if small else [10000, 100000]),
        "export": lambda: bench_export([20, 100] if small else [10000, 100000], 10),
        "scale-out": lambda: bench_scale_out(*((2, 50) if small else (10, 10000))),
        "import": lambda: bench_import(
            [50, 100] if small else [10000, 100000], 20 if small else 500
        ),
        "daily": lambda: bench_daily(
            [(50, 20), (250, 100)]
            if small
            else [(int(n), int(r)) for n, r in (s.split("/") for s in args.daily_sizes)]
        ),
        "history": lambda: bench_history(
            [(3000, 1000), (6000, 3000)]
            if small
            else [(int(h), int(a)) for h, a in (s.split("/") for s in args.history_sizes)],
            3 if small else 7,
            small,
        ),
        "schedules": lambda: bench_schedules(
            [(200, 60)] if small else [(100_000, 10_000), (1_000_000, 10_000)],
            naive_limit=60 if small else 3000,
            tier_change=(20, 10) if small else (100_000, 1000),
        ),
    }
    machine = machine_line(connection.vendor)
    results: dict[str, Any] = {}
    # The outbox rows of the invitations are part of the fan-out; waking the drain is not.
    with (
        scopes_disabled(),
        mock.patch("dossiers.messages.kick"),
        mock.patch("dossiers.opening.kick"),
        mock.patch("outbox.mail.kick"),
    ):
        reset_database()
        # The one-minute load average before and after each section: the report says what
        # the machine was doing while each figure was taken.
        loads: dict[str, list[float]] = {}
        for name in sections:
            before = os.getloadavg()[0]
            results[name] = runners[name]()
            loads[name] = [round(before, 2), round(os.getloadavg()[0], 2)]
            print("\n" + "\n".join(RENDERERS[name](results[name])), flush=True)
            print(f"load average: {loads[name][0]} before, {loads[name][1]} after", flush=True)
            if args.save:  # after each section, so that a run stopped half-way keeps them
                saved = {"results": results, "small": small, "loads": loads, "machine": machine}
                args.save.write_text(json.dumps(saved, default=str))
    shutil.rmtree(media, ignore_errors=True)
    if not args.no_write and sections == SECTIONS:
        gathered = Gathered(results, small, loads, machine=machine, conditions=args.conditions)
        write_report(gathered, connection.vendor, path=args.output)
    return results


if __name__ == "__main__":
    main()
