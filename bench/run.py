"""Benchmarks at scale, each figure beside the naive way and the database's floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench python bench/run.py [--small]
        [--section fan-out|dispatcher|pages|purge|email|export|scale-out]

Builds synthetic data in the database named by DATABASE_URL (its tables are dropped and
migrated afresh: use a database of its own), measures, prints each section's table as it
finishes and, after a full run, writes docs/PERFORMANCE.md. `--small` runs a few hundred rows
in seconds, for the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# The gunicorn of the page benchmark must read the sessions this process signs.
BENCH_SECRET_KEY = "bench-only-" + "k" * 60


def setup(media: Path) -> None:
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


# 1. Fan-out ----------------------------------------------------------------------------------


def build_fan_out(n: int) -> tuple[Any, Any, list[Any]]:
    truncate("profiles_profile", "monitoring_updategroup", "organizations_organization")
    return fan_out_organization("bench", n)


def fan_out_organization(slug: str, n: int) -> tuple[Any, Any, list[Any]]:
    """An organisation of `n` contacts, a group of 4 fields and its run, not yet opened."""
    from monitoring import overview
    from monitoring.models import UpdateGroup, UpdateRun
    from organizations.models import Organization
    from profiles.models import DataField, FieldValue, Kind, Profile

    org = Organization.objects.create(name=slug.title(), slug=slug)
    group = UpdateGroup(
        organization=org,
        title="KYC",
        applies_to=Kind.CONTACT,
        start_date=dt.date(2024, 1, 31),
        interval_count=3,
        interval_unit="months",
    )
    group.schedule_from()
    group.save()
    fields = [
        DataField.objects.create(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"F{i}",
            type=t,
            position=i,
            update_group=group,
        )
        for i, t in enumerate(["text", "number", "date", "document"])
    ]
    for start in range(0, n, 5000):
        profiles = Profile.objects.bulk_create(
            Profile(organization=org, kind=Kind.CONTACT, last_name=f"P{i}", email=f"p{i}@x.org")
            for i in range(start, min(n, start + 5000))
        )
        FieldValue.objects.bulk_create(
            FieldValue(organization=org, profile=p, field=fields[0], value="old") for p in profiles
        )
    # Rows written past the product's paths: the overview's cells (one a profile and field),
    # which the product keeps and each page of the fan-out moves, are computed once.
    overview.refresh(org.pk)
    analyze()
    run = UpdateRun.objects.create(
        organization=org,
        group=group,
        period=dt.date(2024, 1, 31),
        index=0,
        due_at=dt.datetime(2024, 1, 31, 7, tzinfo=dt.UTC),
    )
    return org, run, fields


def analyze(vacuum: bool = False) -> None:
    """Fresh planner statistics, as autovacuum keeps them on a live database; with `vacuum`,
    the visibility map too, which index-only scans read (autovacuum sets it after inserts)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")


def clear_dossiers() -> None:
    tables = ("dossiers_dossieritem", "dossiers_accesstoken", "outbox_message", "dossiers_dossier")
    truncate(*tables)
    # Statistics that say "empty", as autovacuum leaves them, rather than none at all: with
    # none, PostgreSQL plans the overview cells' UPDATE of each page by the items of a field
    # (every item of the run so far) instead of those of the page.
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")


def naive_fan_out(org: Any, run: Any, fields: list[Any], limit: int) -> int:
    """What a user writes first: one profile at a time, one ORM create per row."""
    from dossiers.models import Dossier, DossierItem
    from dossiers.opening import update_dossier_expiry
    from monitoring import overview
    from profiles.models import FieldValue, Profile

    created = 0
    for profile in Profile.objects.filter(organization=org).order_by("id")[:limit]:
        dossier = Dossier.objects.create(
            organization=org,
            profile=profile,
            kind="update",
            title=run.group.title,
            update_group=run.group,
            period=run.period,
            expires_at=update_dossier_expiry(dt.datetime.now(dt.UTC)),
        )
        values = {v.field_id: v for v in FieldValue.objects.filter(profile=profile)}
        for position, field in enumerate(fields):
            value = values.get(field.pk)
            DossierItem.objects.create(
                organization=org,
                dossier=dossier,
                field=field,
                position=position,
                initial_value=value.value if value else None,
                initial_document_id=value.document_id if value else None,
            )
        # As every other write of the product keeps them: the profile's cells recomputed.
        overview.refresh(org.pk, profile_ids=[profile.pk])
        created += 1
    return created


def floor_fan_out(org: Any, run: Any) -> None:
    """The database's own floor: three INSERT … SELECT statements and an UPDATE in one
    transaction, of the same rows as ours (the dossiers, their items, an invitation each in
    the outbox, the overview's cells they ask for)."""
    from django.db import connection, transaction

    new_uuid = (
        "gen_random_uuid()" if connection.vendor == "postgresql" else ("lower(hex(randomblob(16)))")
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO dossiers_dossier (uuid, organization_id, profile_id, kind, status,
                title, message, update_group_id, period, created_at, expires_at)
            SELECT {new_uuid}, organization_id, id, 'update', 'open', %s, '', %s, %s,
                CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
            FROM profiles_profile
            WHERE organization_id = %s AND kind = 'contact' AND archived_at IS NULL
            """,
            [run.group.title, run.group_id, run.period, org.pk],
        )
        cursor.execute(
            """
            INSERT INTO dossiers_dossieritem (organization_id, dossier_id, field_id, position,
                initial_value, initial_document_id, answered, confirmed, review,
                rejection_reason, upload, upload_name, upload_content_type)
            SELECT d.organization_id, d.id, f.id, f.position, v.value, v.document_id, false,
                false, '', '', '', '', ''
            FROM dossiers_dossier d
            CROSS JOIN profiles_datafield f
            LEFT JOIN profiles_fieldvalue v ON v.profile_id = d.profile_id AND v.field_id = f.id
            WHERE d.update_group_id = %s AND d.period = %s AND f.update_group_id = %s
            """,
            [run.group_id, run.period, run.group_id],
        )
        # Every profile here is a contact with an address: one invitation per dossier.
        cursor.execute(
            """
            INSERT INTO outbox_message (organization_id, "key", status, attempts,
                next_attempt_at, last_error, created_at, kind, address, language, dossier_id,
                profile_id)
            SELECT d.organization_id, 'dossiers.invitation:' || d.id || ':' || p.id, 'queued',
                0, CURRENT_TIMESTAMP, '', CURRENT_TIMESTAMP, 'dossiers.invitation', p.email,
                p.language, d.id, p.id
            FROM dossiers_dossier d
            JOIN profiles_profile p ON p.id = d.profile_id
            WHERE d.update_group_id = %s AND d.period = %s
            """,
            [run.group_id, run.period],
        )
        # The overview's cells of the requested fields, which ours moves too (never reset
        # between measures: a cell is rewritten the same whatever it held). Its plan needs
        # the statistics of the rows just written, which would say "empty" otherwise.
        cursor.execute("ANALYZE dossiers_dossier, dossiers_dossieritem")
        cursor.execute(
            """
            UPDATE monitoring_compliancecell c SET overdue_dossier = NULL,
                requested_dossier = d.uuid, requested_until = d.expires_at
            FROM dossiers_dossier d JOIN dossiers_dossieritem i ON i.dossier_id = d.id
            WHERE d.update_group_id = %s AND d.period = %s
                AND c.profile_id = d.profile_id AND c.field_id = i.field_id
            """,
            [run.group_id, run.period],
        )


def bench_fan_out(sizes: list[int], naive_limit: int) -> list[dict[str, Any]]:
    from django.conf import settings

    from dossiers.models import Dossier
    from monitoring.dispatch import open_run
    from outbox.models import Message

    rows = []
    for n in sizes:
        org, run, fields = build_fan_out(n)
        clear_dossiers()
        with measured() as ours:
            open_run(run.pk)
        assert Dossier.objects.count() == n
        assert Message.objects.count() == n
        clear_dossiers()
        memory = peak_memory(lambda run=run: open_run(run.pk))
        clear_dossiers()
        with measured() as naive:
            done = naive_fan_out(org, run, fields, min(n, naive_limit))
        clear_dossiers()
        with measured() as floor:
            floor_fan_out(org, run)
        assert Dossier.objects.count() == n
        assert Message.objects.count() == n
        clear_dossiers()
        rows.append(
            {
                "n": n,
                "chunk": settings.MONITORING_CHUNK_SIZE,
                "ours_rate": n / ours["seconds"],
                "ours_queries": ours["queries"],
                "ours_memory": memory,
                "naive_rate": done / naive["seconds"],
                "naive_queries_per_profile": naive["queries"] / done,
                "naive_sample": done,
                "floor_rate": n / floor["seconds"],
            }
        )
        print(f"fan-out {n}: {rows[-1]['ours_rate']:,.0f} dossiers/s", flush=True)
    return rows


# 2. The dispatcher ---------------------------------------------------------------------------


# Zones one to two hours east of UTC: at 07:00 UTC beat's crontab filter (below) keeps all of
# their 08:00 entries, so its load is measured at its fullest.
BENCH_ZONES = ["Europe/Paris", "Europe/London", "Europe/Berlin", "Europe/Lisbon", "Europe/Helsinki"]
DISPATCH_NOW = dt.datetime(2025, 6, 15, 12, tzinfo=dt.UTC)


def build_groups(n_orgs: int, total: int, due_every: int) -> int:
    """`total` monthly, quarterly, half-yearly and yearly groups, anchored on days 16 to 28,
    across `n_orgs` organisations in BENCH_ZONES; one in `due_every` is due on 15 June at
    08:00 local, and one in a hundred of those missed a period (beat down): Python's case.
    Returns the number due."""
    from django.db import connection

    from monitoring.models import UpdateGroup
    from organizations.models import Organization

    truncate(
        "monitoring_updaterun",
        "monitoring_updategroup",
        "organizations_organization",
        "django_celery_beat_periodictask",
        "django_celery_beat_crontabschedule",
    )
    orgs = Organization.objects.bulk_create(
        (
            Organization(name=f"Org {i}", slug=f"org-{i}", time_zone=BENCH_ZONES[i % 5])
            for i in range(n_orgs)
        ),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {UpdateGroup._meta.db_table} (uuid, title, applies_to, start_date,
                interval_count, interval_unit, is_active, next_index, next_run_at, created_at,
                organization_id, extend_expiry, review_required, message, translations,
                remind_after, remind_before)
            SELECT gen_random_uuid(), 'G' || i, 'contact', s.start, s.n, 'months', true, s.k,
                   (s.start + make_interval(months => s.n * s.k) + time '08:00')
                       AT TIME ZONE o.time_zone,
                   now(), o.id, false, false, '', '{{}}', '[3, 10]', '[2]'
            FROM generate_series(0, %(total)s - 1) AS i
            JOIN organizations_organization o ON o.id = %(first)s + i %% %(orgs)s
            CROSS JOIN LATERAL (
                SELECT (ARRAY[1, 3, 6, 12])[1 + i %% 4] AS n,
                       i %% %(every)s = 0 AS due,
                       i %% %(every)s = 0 AND (i / %(every)s) %% 100 = 1 AS missed,
                       make_date(2024, 1 + (i / 4) %% 12, 16 + i %% 13) AS anchor
            ) AS a
            CROSS JOIN LATERAL (
                SELECT a.n,
                       CASE WHEN a.due THEN date '2025-06-15'
                           - make_interval(months => a.n * CASE WHEN a.missed THEN 2 ELSE 1 END)
                           ELSE a.anchor END::date AS start,
                       CASE WHEN a.missed THEN 0 WHEN a.due THEN 1
                           ELSE (18 - extract(month FROM a.anchor)::int + a.n - 1) / a.n
                           END AS k
            ) AS s
            """,
            {"total": total, "first": orgs[0].pk, "orgs": n_orgs, "every": due_every},
        )
        cursor.execute("DROP TABLE IF EXISTS bench_due")
        cursor.execute(
            "CREATE TABLE bench_due AS SELECT id, next_index, next_run_at"
            f" FROM {UpdateGroup._meta.db_table} WHERE next_run_at <= %s",
            [DISPATCH_NOW],
        )
    analyze()
    return UpdateGroup.objects.filter(next_run_at__lte=DISPATCH_NOW).count()


def reset_due() -> None:
    """The due groups due again, and the old versions of their rows vacuumed away, as
    autovacuum does on a live database between one day's passes and the next."""
    from django.db import connection

    truncate("monitoring_updaterun")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE monitoring_updategroup g SET next_index = b.next_index,"
            " next_run_at = b.next_run_at FROM bench_due b WHERE g.id = b.id"
        )
        cursor.execute("VACUUM ANALYZE monitoring_updategroup, monitoring_updaterun")


def bench_our_pass(n_orgs: int, total: int, due_every: int) -> dict[str, Any]:
    from django.db import connection, transaction

    from monitoring import dispatch
    from monitoring.models import UpdateRun

    due = build_groups(n_orgs, total, due_every)
    passes = []
    for _ in range(5):  # the median of five passes over the same due groups
        reset_due()
        with measured() as ours:
            run_ids = dispatch.dispatch_due(now=DISPATCH_NOW, fan_out=False)
        assert len(run_ids) == UpdateRun.objects.count() == due
        passes.append(ours)
    missed = UpdateRun.objects.filter(skipped__gt=0).count()
    python = []
    for _ in range(3):  # every row through Python, as the pass did before the statement
        reset_due()
        with measured() as every_row, transaction.atomic():
            claimed = dispatch._claim(DISPATCH_NOW, dispatch.CLAIM_LIMIT)
            assert len(dispatch._dispatch_in_python(claimed, DISPATCH_NOW)) == due
        python.append(every_row)
    due_ids = sorted(UpdateRun.objects.values_list("group_id", flat=True))
    floors = []
    for _ in range(3):  # the database's floor: the same rows written, nothing claimed or computed
        reset_due()
        with measured() as floor, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE monitoring_updategroup SET next_index = next_index + 1,"
                " next_run_at = next_run_at + interval '1 month' WHERE id = ANY(%s)",
                [due_ids],
            )
            cursor.execute(
                "INSERT INTO monitoring_updaterun (organization_id, group_id, period, index,"
                " skipped, due_at, created_at, dossiers_opened) SELECT organization_id, id,"
                " start_date, 0, 0, next_run_at, now(), 0 FROM monitoring_updategroup"
                " WHERE id = ANY(%s)",
                [due_ids],
            )
        floors.append(floor)
    ours, every_row, floor = _median(passes), _median(python), _median(floors)
    print(f"dispatcher {total}: one pass {ours['seconds']:.3f} s for {due:,} due", flush=True)
    return {
        "groups": total,
        "orgs": n_orgs,
        "due": due,
        "missed": missed,
        "seconds": ours["seconds"],
        "queries": ours["queries"],
        "python_seconds": every_row["seconds"],
        "python_queries": every_row["queries"],
        "floor_seconds": floor["seconds"],
    }


def bench_beat_load(n: int, variant: str) -> dict[str, Any]:
    """DatabaseScheduler loading the first `n` groups kept as one PeriodicTask each, timed on
    `all_as_schedule` (what it repeats after every change to any task)."""
    from celery import current_app
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    from monitoring.models import UpdateGroup

    truncate("django_celery_beat_periodictask", "django_celery_beat_crontabschedule")
    groups = UpdateGroup.objects.order_by("id").values_list(
        "pk", "start_date", "interval_count", "organization__time_zone"
    )[:n]
    if variant == "interval":
        interval, _ = IntervalSchedule.objects.get_or_create(every=30, period=IntervalSchedule.DAYS)
        schedules: list[dict[str, Any]] = [{"interval": interval} for _group in groups]
    else:
        # What a month-anchored group needs: its day, its months, 08:00 in its zone. (A crontab
        # still cannot say "the 31st, or the month's last day": those would skip short months.)
        crontabs = CrontabSchedule.objects.bulk_create(
            (
                CrontabSchedule(
                    minute="0",
                    hour="8",
                    day_of_month=str(start.day),
                    month_of_year="*"
                    if count == 1
                    else ",".join(str(m) for m in range(1, 13) if (m - start.month) % count == 0),
                    day_of_week="*",
                    timezone=zone,
                )
                for _pk, start, count, zone in groups
            ),
            batch_size=5000,
        )
        schedules = [{"crontab": crontab} for crontab in crontabs]
    PeriodicTask.objects.bulk_create(
        (
            PeriodicTask(
                name=f"group-{pk}",
                task="monitoring.tasks.open_run_dossiers",
                args=f"[{pk}]",
                **schedule,
            )
            for (pk, *_rest), schedule in zip(groups, schedules, strict=True)
        ),
        batch_size=5000,
    )
    with mock.patch.object(DatabaseScheduler, "setup_schedule"):
        scheduler = DatabaseScheduler(app=current_app, lazy=True)
    loads = []
    # django-celery-beat 2.9 leaves out of its query the crontab tasks more than two hours
    # from the current hour: measured at 07:00 UTC, when these 08:00 entries are all in.
    at_seven = DISPATCH_NOW.replace(hour=7)
    with mock.patch("django_celery_beat.schedulers.aware_now", return_value=at_seven):
        for _ in range(3):  # the median of three loads
            with measured() as beat:
                entries = scheduler.all_as_schedule()
            assert len(entries) >= n
            loads.append(beat)
    truncate("django_celery_beat_periodictask", "django_celery_beat_crontabschedule")
    load = _median(loads)
    print(f"beat {variant} {n}: load {load['seconds']:.3f} s", flush=True)
    return {"tasks": n, "seconds": load["seconds"], "queries": load["queries"]}


def bench_dispatcher(
    ours_sizes: list[tuple[int, int]],
    interval_sizes: list[int],
    crontab_sizes: list[int],
    due_every: int,
) -> dict[str, Any]:
    from django.db import connection

    result: dict[str, Any] = {"due_every": due_every, "ours": [], "interval": [], "crontab": []}
    for n_orgs, total in ours_sizes:
        result["ours"].append(bench_our_pass(n_orgs, total, due_every))
    # Beat loads the groups of the last build (the largest): its first `n`.
    for n in interval_sizes:
        result["interval"].append(bench_beat_load(n, "interval"))
    for n in crontab_sizes:
        result["crontab"].append(bench_beat_load(n, "crontab"))
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_due")
    return result


def _median(measures: list[dict[str, float]]) -> dict[str, float]:
    return sorted(measures, key=lambda m: m["seconds"])[len(measures) // 2]


def beat_per_task(loads: list[dict]) -> float:
    """Seconds per task of the largest load measured (the loads grow linearly)."""
    return loads[-1]["seconds"] / loads[-1]["tasks"]


# 4. The purge --------------------------------------------------------------------------------


def prepare_purge(n: int, uploads_every: int) -> int:
    """n update dossiers past their month, one upload in every `uploads_every` on disk."""
    from django.core.files.storage import default_storage

    from dossiers.models import Dossier, DossierItem
    from monitoring.dispatch import open_run

    _org, run, fields = build_fan_out(n)
    clear_dossiers()
    open_run(run.pk)
    Dossier.objects.update(created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    items = list(
        DossierItem.objects.filter(field=fields[3]).order_by("id").values_list("id", flat=True)
    )[::uploads_every]
    root = Path(default_storage.location) / "uploads"
    root.mkdir(parents=True, exist_ok=True)
    keys = []
    for item_id in items:
        name = uuid.uuid4().hex
        (root / name).write_bytes(b"%PDF-1.4 bench")
        keys.append((item_id, f"uploads/{name}"))
    for start in range(0, len(keys), 5000):
        DossierItem.objects.bulk_update(
            [DossierItem(pk=i, upload=k) for i, k in keys[start : start + 5000]], ["upload"]
        )
    analyze()
    return len(keys)


def bench_purge(n: int, uploads_every: int) -> dict[str, Any]:
    from django.core.files.storage import default_storage, storages

    from dossiers.models import Dossier
    from dossiers.retention import purge_dossiers

    when = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    storage = storages["default"]
    original = storage.delete
    deletes = {"calls": 0}

    def counting_delete(name: str) -> None:
        deletes["calls"] += 1
        original(name)

    uploads = prepare_purge(n, uploads_every)
    with mock.patch.object(storage, "delete", counting_delete), measured() as result:
        purged = purge_dossiers(now=when)
    assert purged == n and not Dossier.objects.exists()
    left = list((Path(default_storage.location) / "uploads").iterdir())
    assert not left, f"{len(left)} orphan files"
    prepare_purge(n, uploads_every)
    memory = peak_memory(lambda: purge_dossiers(now=when))
    return {
        "n": n,
        "uploads": uploads,
        "seconds": result["seconds"],
        "queries": result["queries"],
        "memory": memory,
        "storage_deletes": deletes["calls"],
    }


# 5. The e-mail pipeline ----------------------------------------------------------------------

SMTP_PORT = int(os.environ.get("BENCH_SMTP_PORT", "8825"))


def build_invitations(n: int) -> Any:
    """n classic dossiers of 3 fields, their invitations queued in the outbox."""
    from dossiers.opening import open_dossiers
    from organizations.models import Organization
    from profiles.models import DataField, Kind, Profile

    truncate("outbox_message", "profiles_profile", "organizations_organization")
    org = Organization.objects.create(name="Mail", slug="mail")
    fields = [
        DataField.objects.create(
            organization=org, applies_to=Kind.CONTACT, label=f"F{i}", type="text", position=i
        )
        for i in range(3)
    ]
    for start in range(0, n, 2000):
        profiles = Profile.objects.bulk_create(
            Profile(
                organization=org,
                kind=Kind.CONTACT,
                last_name=f"P{i}",
                email=f"p{i}@example.org",
                language="en",
            )
            for i in range(start, min(n, start + 2000))
        )
        open_dossiers(org, [p.pk for p in profiles], fields, kind="classic", title="KYC")
    analyze()
    return org


@contextlib.contextmanager
def smtp_sink() -> Iterator[None]:
    """aiosmtpd taking every message and keeping none, on loopback."""
    from django.conf import settings

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{SMTP_PORT}",
        ],
        stdout=subprocess.DEVNULL,
    )
    saved = {
        k: getattr(settings, k, None)
        for k in ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "EMAIL_USE_SSL")
    }
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), smtplib.SMTP("127.0.0.1", SMTP_PORT) as probe:
                probe.noop()
                break
            time.sleep(0.1)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", SMTP_PORT
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        yield
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        server.terminate()
        server.wait(timeout=30)


def requeue() -> None:
    from django.utils import timezone

    from dossiers.models import AccessToken
    from outbox.models import Message

    truncate("dossiers_accesstoken")
    assert not AccessToken.objects.exists()
    Message.objects.update(
        status=Message.Status.QUEUED, attempts=0, done_at=None, next_attempt_at=timezone.now()
    )


def drain() -> int:
    from django.conf import settings

    from outbox.mail import send_due

    with mock.patch.object(settings, "OUTBOX_DRAIN_SECONDS", 3600):
        return send_due()


def floor_email(n: int) -> float:
    """The same messages rendered beforehand, sent over one smtplib connection: msgs/s."""
    from django.conf import settings

    from outbox import registry
    from outbox.mail import message_id
    from outbox.models import Message

    prepared = []
    rows = Message.objects.select_related(
        "organization", "dossier", "profile", *registry.related()
    ).order_by("id")[:n]
    for start in range(0, n, 1000):
        chunk = list(rows[start : start + 1000])
        if not chunk:
            break
        render_batch = registry.render_batch(chunk[0].kind)
        assert render_batch is not None
        emails = render_batch(chunk)
        for row in chunk:
            email = emails[row.pk]
            assert email is not None
            email.to = [row.address]
            email.extra_headers["Message-ID"] = message_id(row.key)
            body = email.message().as_bytes(linesep="\r\n")
            prepared.append((email.from_email, [row.address], body))
    start = time.perf_counter()
    with smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT) as smtp:
        for sender, to, body in prepared:
            smtp.sendmail(sender, to, body)
    return len(prepared) / (time.perf_counter() - start)


def bench_email(sizes: list[int]) -> list[dict[str, Any]]:
    from django.conf import settings
    from django_scopes import scope

    from outbox.models import Message

    rows = []
    with smtp_sink():
        for n in sizes:
            org = build_invitations(n)
            assert Message.objects.filter(status=Message.Status.QUEUED).count() == n
            with measured() as ours:
                sent = drain()
            assert sent == n, (sent, n)
            requeue()
            memory = peak_memory(drain)
            requeue()
            with scope(organization=org):
                floor = floor_email(n)
            rows.append(
                {
                    "n": n,
                    "ours_rate": n / ours["seconds"],
                    "ours_queries": ours["queries"],
                    "ours_memory": memory,
                    "floor_rate": floor,
                    "batch": settings.OUTBOX_BATCH_SIZE,
                }
            )
            print(f"e-mail {n}: {rows[-1]['ours_rate']:,.0f} messages/s", flush=True)
    return rows


def render_email(email: list[dict]) -> list[str]:
    lines = [
        "## 5. The e-mail pipeline: invitations through the outbox",
        "",
        "N classic dossiers of 3 fields, their invitations queued by the fan-out, then sent to"
        " an aiosmtpd sink on loopback (`aiosmtpd.handlers.Sink`, on the same 2 cores). Ours"
        " is `outbox.mail.send_due`: claim a batch (`outbox.claims.claim`, `SKIP LOCKED`),"
        " render it at once (`dossiers.messages.LINK_RELATED` loaded with the rows, the"
        " tokens in one `bulk_create`, the asked fields in one query, each template and"
        " language rendered once by `dossiers.emails.LinkMessages` with holes for the name and"
        " the link and put in MIME form once by `outbox.shared.SharedEmail`), then send each"
        " message over the batch's one SMTP connection and mark it sent as the server accepts"
        " it (`synchronous_commit` off for those marks). The floor sends the same messages,"
        " rendered beforehand, over one `smtplib` connection.",
        "",
        "| messages | ours (messages/s) | floor (messages/s) | ours ÷ floor (target ≥ 0.5) |"
        " queries (ours) | queries per message | peak memory (ours) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in email:
        lines.append(
            f"| {row['n']:,} | {row['ours_rate']:,.0f} | {row['floor_rate']:,.0f} |"
            f" {row['ours_rate'] / row['floor_rate']:.2f} | {row['ours_queries']:,} |"
            f" {row['ours_queries'] / row['n']:.1f} | {row['ours_memory']:.1f} MB |"
        )
    lines += [
        "",
        f"Batches of {email[0]['batch']} messages (`OUTBOX_BATCH_SIZE`), one SMTP connection"
        f" each. Peak memory moves by {email[-1]['ours_memory'] - email[0]['ours_memory']:.1f}"
        f" MB from {email[0]['n']:,} to {email[-1]['n']:,} messages.",
        "",
    ]
    return lines


# 6. The overview's export ---------------------------------------------------------------------


def build_overview(n: int, n_fields: int) -> tuple[Any, Any]:
    """n contacts by n_fields monitored fields, a third of one field's values expired."""
    from django.contrib.auth import get_user_model

    from monitoring.models import UpdateGroup
    from organizations.models import Membership, Organization
    from profiles.models import DataField, FieldValue, Kind, Profile

    truncate("profiles_profile", "organizations_organization", "auth_user")
    org = Organization.objects.create(name="Export", slug="export")
    user = get_user_model().objects.create_user("exporter")
    Membership.objects.create(organization=org, user=user, role="admin")
    group = UpdateGroup(
        organization=org,
        title="KYC",
        applies_to=Kind.CONTACT,
        start_date=dt.date(2024, 1, 31),
        interval_count=12,
        interval_unit="months",
    )
    group.schedule_from()
    group.save()
    fields = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Monitored {i}",
            type="text",
            position=i,
            update_group=group,
        )
        for i in range(n_fields)
    )
    today = dt.date.today()
    for start in range(0, n, 5000):
        profiles = Profile.objects.bulk_create(
            Profile(organization=org, kind=Kind.CONTACT, last_name=f"P{i}", email=f"p{i}@x.org")
            for i in range(start, min(n, start + 5000))
        )
        FieldValue.objects.bulk_create(
            FieldValue(
                organization=org,
                profile=p,
                field=fields[0],
                value="checked",
                expires_on=today + dt.timedelta(days=(-10, 10, 400)[p.pk % 3]),
            )
            for p in profiles
        )
    from monitoring import overview

    # Rows written past the product's paths: the overview's cells are computed once, as the
    # migration that introduced them does.
    analyze()
    start = time.perf_counter()
    overview.refresh(org.pk)
    print(f"overview cells of {n} profiles: {time.perf_counter() - start:.1f} s", flush=True)
    analyze()
    return org, user


def export_csv(client: Any, org: Any) -> int:
    """The overview's CSV as a browser gets it, read to the end; returns its data rows."""
    response = client.get(f"/o/{org.slug}/monitoring/overview.csv")
    assert response.status_code == 200 and response.streaming
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    return lines - 1


def copy_floor(org: Any) -> int:
    """COPY of the same rows (the overview's own SELECT) to STDOUT: the database's floor."""
    import psycopg
    from django.db import connection

    from monitoring import overview

    sql, params = overview._filtered(org.pk, overview.Filters(), dt.date.today())
    columns = ", ".join(f"c.{name}" for name in overview.EXPORT_COLUMNS)
    query = f"SELECT {columns} FROM ({sql}) c {overview.ORDER}"
    connection.ensure_connection()
    raw = connection.connection
    inline = psycopg.ClientCursor(raw).mogrify(query, params)
    rows = 0
    with raw.cursor() as cursor, cursor.copy(f"COPY ({inline}) TO STDOUT (FORMAT csv)") as copy:
        for block in copy:
            rows += bytes(block).count(b"\n")
    return rows


def bench_export(sizes: list[int], n_fields: int) -> list[dict[str, Any]]:
    from django.test import Client

    rows = []
    for n in sizes:
        org, user = build_overview(n, n_fields)
        client = Client()
        client.force_login(user)
        export_csv(client, org)  # unmeasured: the first call loads what the view imports
        with measured() as ours:
            cells = export_csv(client, org)
        assert cells == n * n_fields, (cells, n * n_fields)
        memory = peak_memory(lambda client=client, org=org: export_csv(client, org))
        start = time.perf_counter()
        copied = copy_floor(org)
        floor_seconds = time.perf_counter() - start
        assert copied == cells, (copied, cells)
        rows.append(
            {
                "profiles": n,
                "fields": n_fields,
                "cells": cells,
                "ours_rate": cells / ours["seconds"],
                "ours_queries": ours["queries"],
                "ours_memory": memory,
                "floor_rate": cells / floor_seconds,
            }
        )
        print(f"export {cells}: {rows[-1]['ours_rate']:,.0f} rows/s", flush=True)
    return rows


def render_export(export: list[dict]) -> list[str]:
    lines = [
        "## 6. The compliance overview's CSV export",
        "",
        "Profiles by monitored fields, one CSV row per cell, each cell's status read from the"
        " overview's maintained table (`monitoring.models.ComplianceCell`, one row per"
        " profile and monitored field) with the clock applied in SQL. Ours is"
        " `monitoring.views.compliance_export` read to its end through Django's test client"
        " (the whole view: session, membership, audit, the rows of"
        " `monitoring.overview.export_rows` from a server-side cursor, written by `csv.writer`"
        " 500 lines a chunk)."
        " The floor is `COPY (SELECT …) TO STDOUT` of the same SELECT, read by psycopg.",
        "",
        "| profiles | fields | rows | ours (rows/s) | floor (rows/s) | ours ÷ floor"
        " (target ≥ 0.25) | queries (ours) | peak memory (ours) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in export:
        lines.append(
            f"| {row['profiles']:,} | {row['fields']} | {row['cells']:,} |"
            f" {row['ours_rate']:,.0f} | {row['floor_rate']:,.0f} |"
            f" {row['ours_rate'] / row['floor_rate']:.2f} | {row['ours_queries']:,} |"
            f" {row['ours_memory']:.1f} MB |"
        )
    lines += [
        "",
        f"Peak memory moves by {export[-1]['ours_memory'] - export[0]['ours_memory']:.1f} MB"
        f" from {export[0]['cells']:,} to {export[-1]['cells']:,} rows.",
        "",
    ]
    return lines


# 7. Scale-out: the fan-out on real workers --------------------------------------------------

# A Redis database of the benchmark's own: its queue is emptied before each measure.
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
SCALE_OUT_QUEUE = "bench-scale-out"
SCALE_OUT_SETUPS = [(1, "one worker process, `--concurrency 1`"), (2, "two such processes")]


def start_worker(env: dict[str, str], name: str, log: Path) -> subprocess.Popen:
    """A worker of its own process group, consuming only the benchmark's queue."""
    from tests.workers import start_worker as start_test_worker

    quiet = ("--without-gossip", "--without-mingle", "--without-heartbeat")
    with log.open("w") as out:
        return start_test_worker(env, out, "-Q", SCALE_OUT_QUEUE, "-n", f"{name}@%h", *quiet)


def wait_ready(workers: list[tuple[subprocess.Popen, Path]], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(" ready." in log.read_text() for _worker, log in workers):
            return
        for worker, log in workers:
            if worker.poll() is not None:
                raise RuntimeError(f"a worker exited:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError("the workers did not start in time")


def group_cpu(groups: set[int]) -> float:
    """CPU seconds so far of the processes of these process groups (a worker and its pool)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The fields after the command's closing parenthesis: state, ppid, pgrp, …
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in groups:
                ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def stop_worker(worker: subprocess.Popen) -> None:
    """Warm shutdown of the worker's process group (it and its pool), killed after a minute."""
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGTERM)
    try:
        worker.wait(timeout=60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def bench_scale_out(n_runs: int, n: int) -> dict[str, Any]:
    """Ten runs' fan-out (`monitoring.tasks.open_run_dossiers`, one task a run) through
    Redis to one worker, then to two, on PostgreSQL; every dossier counted, none twice."""
    import redis
    from django.db import connection
    from django.db.models import Count

    from config.celery import app
    from dossiers.models import Dossier
    from monitoring.models import UpdateRun
    from monitoring.tasks import open_run_dossiers
    from outbox.models import Message

    truncate("profiles_profile", "monitoring_updategroup", "organizations_organization")
    run_ids = [fan_out_organization(f"bench-{i}", n)[1].pk for i in range(n_runs)]
    analyze()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BENCH_REDIS_URL,
        "EMAIL_HOST": "",
    }
    broker = redis.Redis.from_url(BENCH_REDIS_URL)
    logs = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    rows = []
    for count, label in SCALE_OUT_SETUPS:
        clear_dossiers()
        UpdateRun.objects.filter(pk__in=run_ids).update(finished_at=None, dossiers_opened=0)
        # The drain each page wakes goes to the default queue, which no worker here reads.
        broker.delete(SCALE_OUT_QUEUE, "celery")
        workers = [
            (
                start_worker(env, f"bench{count}-{i}", logs / f"{count}-{i}.log"),
                logs / f"{count}-{i}.log",
            )
            for i in range(count)
        ]
        groups = {worker.pid for worker, _log in workers}
        try:
            wait_ready(workers)
            cpu = group_cpu(groups)
            started = time.time()
            with app.connection_for_write(BENCH_REDIS_URL) as producer:
                for run_id in run_ids:
                    open_run_dossiers.apply_async(
                        args=[run_id], queue=SCALE_OUT_QUEUE, connection=producer
                    )
            deadline = time.monotonic() + 3600
            while UpdateRun.objects.filter(pk__in=run_ids, finished_at__isnull=True).exists():
                if time.monotonic() > deadline or any(w.poll() is not None for w, _ in workers):
                    tails = "\n".join(log.read_text()[-2000:] for _w, log in workers)
                    raise RuntimeError(f"the runs did not finish:\n{tails}")
                time.sleep(0.2)
            last = max(
                UpdateRun.objects.filter(pk__in=run_ids).values_list("finished_at", flat=True)
            )
            seconds = last.timestamp() - started
            cpu = group_cpu(groups) - cpu
        finally:
            for worker, _log in workers:
                stop_worker(worker)
        tasks = [log.read_text().count("succeeded in") for _w, log in workers]
        dossiers = Dossier.objects.count()
        duplicates = (
            Dossier.objects.values("update_group", "period", "profile")
            .annotate(copies=Count("id"))
            .filter(copies__gt=1)
            .count()
        )
        invitations = Message.objects.filter(kind="dossiers.invitation").count()
        opened = sum(
            UpdateRun.objects.filter(pk__in=run_ids).values_list("dossiers_opened", flat=True)
        )
        assert (dossiers, duplicates, invitations, opened) == (
            n * n_runs,
            0,
            n * n_runs,
            n * n_runs,
        )
        rows.append(
            {
                "workers": count,
                "label": label,
                "seconds": seconds,
                "rate": dossiers / seconds,
                "tasks": tasks,
                "dossiers": dossiers,
                "duplicates": duplicates,
                "invitations": invitations,
                "worker_cpu": cpu,
            }
        )
        print(f"scale-out {count} worker(s): {dossiers / seconds:,.0f} dossiers/s", flush=True)
    broker.delete(SCALE_OUT_QUEUE, "celery")
    shutil.rmtree(logs, ignore_errors=True)
    clear_dossiers()
    return {"runs": n_runs, "profiles": n, "chunk": settings_chunk(), "rows": rows}


def settings_chunk() -> int:
    from django.conf import settings

    return int(settings.MONITORING_CHUNK_SIZE)


# 3. Pages under load -------------------------------------------------------------------------


def seed_pages(
    org_id: int,
    n: int,
    classic_field: int,
    group_id: int,
    run_id: int,
    monitored: list[int],
) -> None:
    """n contacts, each with a classic dossier of one field (one in ten waiting for review);
    one value of the first monitored field each (a third expired, a third expiring); and the
    run's update dossier of every contact, its items prefilled, its invitation sent.

    One INSERT … SELECT per table, as the product's fan-out writes them, without its
    chunks, signals and commits.
    """
    from django.db import connection, transaction

    from dossiers.messages import INVITATION

    now = dt.datetime.now(dt.UTC)
    expires = now + dt.timedelta(days=31)
    today = dt.date.today()
    period = dt.date(2024, 1, 31)
    statements: list[tuple[str, list[Any]]] = [
        (
            """
            INSERT INTO profiles_profile (uuid, kind, first_name, last_name, email, phone,
                language, is_representative, name, registration_number, address, created_at,
                updated_at, organization_id)
            SELECT gen_random_uuid(), 'contact', '', 'C' || i, 'c' || i || '@x.org', '', 'fr',
                false, '', '', '', %s, %s, %s
            FROM generate_series(0, %s - 1) i
            """,
            [now, now, org_id, n],
        ),
        (
            """
            INSERT INTO dossiers_dossier (uuid, kind, status, title, message, created_at,
                expires_at, submitted_at, organization_id, profile_id)
            SELECT gen_random_uuid(), 'classic',
                CASE WHEN p.id %% 10 = 0 THEN 'to_review' ELSE 'open' END, 'Review', '', %s,
                %s, CASE WHEN p.id %% 10 = 0 THEN %s::timestamptz END, p.organization_id, p.id
            FROM profiles_profile p
            WHERE p.organization_id = %s AND p.last_name LIKE 'C%%'
            ORDER BY p.id
            """,
            [now, expires, now, org_id],
        ),
        (
            """
            INSERT INTO dossiers_dossieritem (organization_id, dossier_id, field_id, position,
                answered, confirmed, review, rejection_reason, upload, upload_name,
                upload_content_type)
            SELECT d.organization_id, d.id, %s, 0, false, false, '', '', '', '', ''
            FROM dossiers_dossier d
            WHERE d.organization_id = %s AND d.kind = 'classic'
            """,
            [classic_field, org_id],
        ),
        (
            """
            INSERT INTO profiles_fieldvalue (organization_id, profile_id, field_id, value,
                expires_on, updated_at)
            SELECT p.organization_id, p.id, %s, '"checked"',
                %s::date + (ARRAY[-10, 10, 400])[p.id %% 3 + 1], %s
            FROM profiles_profile p
            WHERE p.organization_id = %s
            """,
            [monitored[0], today, now, org_id],
        ),
        (
            """
            INSERT INTO dossiers_dossier (uuid, kind, status, title, message, created_at,
                expires_at, period, update_group_id, organization_id, profile_id)
            SELECT gen_random_uuid(), 'update', 'open', 'KYC', '', %s, %s, %s, %s,
                p.organization_id, p.id
            FROM profiles_profile p
            WHERE p.organization_id = %s AND p.kind = 'contact'
            ORDER BY p.id
            """,
            [now, expires, period, group_id, org_id],
        ),
        (
            """
            INSERT INTO dossiers_dossieritem (organization_id, dossier_id, field_id, position,
                initial_value, answered, confirmed, review, rejection_reason, upload,
                upload_name, upload_content_type)
            SELECT d.organization_id, d.id, f.id, f.position - 500, v.value, false, false, '',
                '', '', '', ''
            FROM dossiers_dossier d
            CROSS JOIN profiles_datafield f
            LEFT JOIN profiles_fieldvalue v ON v.profile_id = d.profile_id AND v.field_id = f.id
            WHERE d.update_group_id = %s AND d.period = %s AND f.update_group_id = %s
            """,
            [group_id, period, group_id],
        ),
        (
            """
            INSERT INTO outbox_message (organization_id, key, status, attempts,
                next_attempt_at, last_error, created_at, done_at, kind, address, language,
                dossier_id, profile_id)
            SELECT d.organization_id, %s || ':' || d.id || ':' || p.id, 'sent', 1, %s, '',
                %s, %s, %s, p.email, p.language, d.id, p.id
            FROM dossiers_dossier d
            JOIN profiles_profile p ON p.id = d.profile_id
            WHERE d.organization_id = %s
            """,
            [INVITATION, now, now, now, INVITATION, org_id],
        ),
        (
            """
            UPDATE monitoring_updaterun SET finished_at = %s,
                dossiers_opened = (SELECT count(*) FROM dossiers_dossier
                    WHERE update_group_id = %s AND period = %s)
            WHERE id = %s
            """,
            [now, group_id, period, run_id],
        ),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        # The foreign keys are deferred: checked row by row at COMMIT they took two minutes
        # for rows each statement takes from the tables they point to. A benchmark-only
        # shortcut (it needs a superuser): the rows are consistent by construction.
        cursor.execute("SET LOCAL session_replication_role = replica")
        for sql, params in statements:
            cursor.execute(sql, params)


def build_pages(
    n_fields: int, n_history: int, n_dossiers: int, portal_fields: int, n_tokens: int
) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from api.models import ApiKey
    from dossiers.models import AccessToken, Dossier
    from dossiers.opening import open_dossiers
    from monitoring.models import UpdateGroup, UpdateRun
    from organizations.models import Membership, Organization
    from profiles.models import DataField, FieldValue, FieldValueHistory, Kind, Profile

    truncate("profiles_profile", "organizations_organization", "auth_user", "django_session")
    org = Organization.objects.create(name="Load", slug="load")
    user = get_user_model().objects.create_user("bench")
    Membership.objects.create(organization=org, user=user, role="admin")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    fields = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Field {i}",
            type="text",
            position=i,
            section=f"Section {i // 25}",
        )
        for i in range(n_fields)
    )
    profile = Profile.objects.create(
        organization=org, kind=Kind.CONTACT, last_name="Heavy", email="heavy@x.org"
    )
    FieldValue.objects.bulk_create(
        FieldValue(organization=org, profile=profile, field=f, value=f"value {f.position}")
        for f in fields
    )
    FieldValueHistory.objects.bulk_create(
        (
            FieldValueHistory(
                organization=org,
                profile=profile,
                field=f,
                old_value=f"v{k}",
                new_value=f"v{k + 1}",
                source="staff",
            )
            for f in fields
            for k in range(n_history)
        ),
        batch_size=5000,
    )
    # The contacts, their classic dossiers, the run and the overview's values are written by
    # set-based SQL (seed_pages): at 100,000 of each, the product's own fan-out would spend
    # minutes building what the pages only read.
    group = UpdateGroup(
        organization=org,
        title="KYC",
        applies_to=Kind.CONTACT,
        start_date=dt.date(2024, 1, 31),
        interval_count=3,
        interval_unit="months",
    )
    group.schedule_from()
    group.save()
    monitored = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Monitored {i}",
            type="text",
            position=500 + i,
            update_group=group,
        )
        for i in range(10)
    )
    run = UpdateRun.objects.create(
        organization=org,
        group=group,
        period=dt.date(2024, 1, 31),
        index=0,
        due_at=dt.datetime(2024, 1, 31, 7, tzinfo=dt.UTC),
    )
    seed_pages(org.pk, n_dossiers, fields[0].pk, group.pk, run.pk, [f.pk for f in monitored])
    # Statistics before anything else is planned on these tables, as autovacuum would take
    # them after such inserts: the submitters' dossiers below refresh their overview cells.
    analyze()
    _key, api_key = ApiKey.issue(org, name="Bench", access="read")
    documents = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Doc {i}",
            type="document",
            position=1000 + i,
            max_size_mb=5,
        )
        for i in range(2)
    )
    asked = fields[:portal_fields] + documents
    submitters = Profile.objects.bulk_create(
        Profile(
            organization=org,
            kind=Kind.CONTACT,
            last_name=f"S{i}",
            email=f"s{i}@x.org",
            language="en",
        )
        for i in range(n_tokens)
    )
    ids = open_dossiers(org, [p.pk for p in submitters], asked, kind="classic", title="Submit")
    tokens = [
        AccessToken.issue(d, d.profile)
        for d in Dossier.objects.filter(pk__in=ids).select_related("profile")
    ]
    from monitoring import overview

    # Values and fields were written past the product's paths: the overview's cells are
    # computed once, as the migration that introduced them does.
    analyze()
    overview.refresh(org.pk)
    analyze(vacuum=True)
    return {
        "session": session.session_key,
        "api_key": api_key,
        "group": group.uuid,
        "run_pages": -(-Dossier.objects.filter(update_group=group).count() // 50),
        "profile": profile.uuid,
        "tokens": tokens,
        "asked": asked,
        "submit_ids": ids,
        "profile_fields": len(fields) + len(monitored) + len(documents),
        "dossier_count": Dossier.objects.filter(organization=org).count(),
    }


LUA_REPORT = """
done = function(summary, latency, requests)
  io.write(string.format("REPORT %d %d %d %d\\n", summary.requests,
    latency:percentile(50), latency:percentile(95), summary.errors.status))
end
"""

LUA_SUBMIT = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local file = io.open(os.getenv("BENCH_BODY"), "rb")
local body = file:read("*a")
file:close()
local counter = 0
local threads = 0
-- Each of wrk's threads takes every other token, so no two requests share a dossier.
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "multipart/form-data; boundary=BENCHBOUNDARY"
wrk.headers["Cookie"] = "csrftoken=" .. os.getenv("BENCH_CSRF")
local floor = os.getenv("BENCH_FLOOR")
request = function()
  counter = counter + 1
  if floor then return wrk.format(nil, floor) end
  return wrk.format(nil, "/d/" .. tokens[((counter * 2 + id) % #tokens) + 1] .. "/")
end
"""


def multipart(fields: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> bytes:
    parts = [
        f'--BENCHBOUNDARY\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        f"{value}\r\n".encode()
        for name, value in fields
    ]
    parts += [
        f'--BENCHBOUNDARY\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="doc.pdf"\r\nContent-Type: application/pdf\r\n\r\n'.encode()
        + content
        + b"\r\n"
        for name, content in files
    ]
    return b"".join([*parts, b"--BENCHBOUNDARY--\r\n"])


def run_wrk(
    url: str, seconds: int, script: Path, headers: dict[str, str], env: dict[str, str] | None = None
) -> dict[str, float]:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", str(script)]
    for key, value in headers.items():
        command += ["-H", f"{key}: {value}"]
    output = subprocess.run(
        [*command, url],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    ).stdout
    rate = float(
        next(line for line in output.splitlines() if line.startswith("Requests/sec")).split()[-1]
    )
    report = next(line for line in output.splitlines() if line.startswith("REPORT")).split()
    return {
        "rate": rate,
        "requests": int(report[1]),
        "p50": int(report[2]) / 1000,
        "p95": int(report[3]) / 1000,
        "status_errors": int(report[4]),
    }


def in_process_queries(
    method: str, path: str, data: Any = None, headers: dict[str, str] | None = None
) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    headers = dict(headers or {})
    client = Client()
    if cookie := headers.pop("Cookie", ""):
        client.cookies["sessionid"] = cookie.removeprefix("sessionid=")
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(path, data, headers=headers)
    assert response.status_code in {200, 302}, (path, response.status_code)
    return len(queries)


def cancel_other_queries() -> None:
    """Stops what killed workers left running in the database, before the next section."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def megabyte_pdf() -> bytes:
    """A one-page PDF of about 1 MB that passes the upload check (profiles.uploads)."""
    import io

    from pypdf import PdfWriter

    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_metadata({"/Padding": "0" * (1024 * 1024)})
    writer.write(out)
    return out.getvalue()


def portal_form(text: list[tuple[str, str]], files: list[tuple[str, bytes]]) -> dict[str, Any]:
    """The submit's body as the test client posts it."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    form: dict[str, Any] = dict(text)
    for name, content in files:
        form[name] = SimpleUploadedFile("doc.pdf", content, "application/pdf")
    form["action"] = "submit"
    return form


def bench_pages(seconds: int, small: bool, media: Path) -> dict[str, Any]:
    from dossiers.models import Dossier

    data = build_pages(*((10, 2, 200, 5, 300) if small else (100, 20, 100000, 20, 2000)))
    port = int(os.environ.get("BENCH_PORT", "8765"))
    env = {
        **os.environ,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": BENCH_SECRET_KEY,
        "SECURE_SSL_REDIRECT": "0",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "MEDIA_ROOT": str(media),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        # The key's rate limit would answer most of wrk's requests with 429.
        "API_RATE_LIMIT": "100000000/min",
    }
    static = Path(tempfile.mkdtemp(prefix="bench-static-"))
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env={**env, "STATIC_ROOT": str(static)},
        check=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "3",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    cookie = {"Cookie": f"sessionid={data['session']}"}
    work = Path(tempfile.mkdtemp(prefix="bench-wrk-"))
    (work / "report.lua").write_text(LUA_REPORT)
    (work / "submit.lua").write_text(LUA_SUBMIT + LUA_REPORT)
    csrf = "b" * 32
    text = [(f"f_{f.uuid.hex}", "new value") for f in data["asked"] if not f.is_document]
    files = [(f"f_{f.uuid.hex}", megabyte_pdf()) for f in data["asked"] if f.is_document]
    (work / "body").write_bytes(
        multipart([("csrfmiddlewaretoken", csrf), ("action", "submit"), *text], files)
    )
    # The server takes the first dossiers; the in-process count takes the last one.
    (work / "tokens").write_text("\n".join(data["tokens"][:-1]))
    n_dossiers = 200 if small else 100000
    results: dict[str, Any] = {
        "seconds": seconds,
        "profiles": n_dossiers + 1,
        "run_size": Dossier.objects.filter(update_group__uuid=data["group"]).count(),
        "profile_fields": data["profile_fields"],
        "history": 2 if small else 20,
        "history_fields": 10 if small else 100,
        "dossier_count": data["dossier_count"],
        "submitters": len(data["tokens"]),
    }
    try:
        for _ in range(150):
            with contextlib.suppress(subprocess.CalledProcessError):
                subprocess.run(["curl", "-sf", base + "/healthz"], check=True, capture_output=True)
                break
            time.sleep(0.2)
        run_path = f"/o/load/monitoring/groups/{data['group']}/runs/2024-01-31/"
        api = {"Authorization": f"Bearer {data['api_key']}"}
        pages = [
            ("trivial", "/healthz", {}),
            ("ceiling", "/o/load/bench-ceiling/", cookie),
            ("profile", f"/o/load/profiles/{data['profile']}/", cookie),
            ("dossiers", "/o/load/dossiers/", cookie),
            ("run", run_path, cookie),
            ("run_last", f"{run_path}?page={data['run_pages']}", cookie),
            ("review", "/o/load/dossiers/to-review/", cookie),
            ("settings", "/o/load/settings/", cookie),
            ("api", "/api/v1/profiles/?page_size=100", api),
        ]

        def measure(key: str, path: str, headers: dict[str, str]) -> None:
            # A second unmeasured: each worker compiles the page's templates on first use.
            run_wrk(base + path, 1, work / "report.lua", headers)
            results[key] = run_wrk(base + path, seconds, work / "report.lua", headers)
            results[key]["queries"] = in_process_queries("get", path, headers=headers)
            # A page answering 404 or a redirect to the login would measure nothing.
            assert results[key]["status_errors"] == 0, (key, path, results[key])
            print(f"  {key}: {results[key]['rate']:,.0f} requests/s", flush=True)

        for key, path, headers in pages:
            measure(key, path, headers)
        submit_env = {
            "BENCH_TOKENS": str(work / "tokens"),
            "BENCH_BODY": str(work / "body"),
            "BENCH_CSRF": csrf,
        }
        # The floor of a submit: the same body through the same middleware, parsed and its
        # files written to storage, nothing else (bench/urls.py).
        floor_env = {**submit_env, "BENCH_FLOOR": "/d/bench/submit-floor/"}
        run_wrk(base + "/d/bench/submit-floor/", 1, work / "submit.lua", {}, floor_env)
        results["submit_floor"] = run_wrk(
            base + "/d/bench/submit-floor/", seconds, work / "submit.lua", {}, floor_env
        )
        assert results["submit_floor"]["status_errors"] == 0, results["submit_floor"]
        results["submit_floor"]["queries"] = in_process_queries(
            "post", "/d/bench/submit-floor/", data=portal_form(text, files)
        )
        print(f"  submit floor: {results['submit_floor']['rate']:,.0f} requests/s", flush=True)
        results["submit"] = run_wrk(base + "/d/", seconds, work / "submit.lua", {}, submit_env)
        results["submit"]["submitted"] = Dossier.objects.filter(
            pk__in=data["submit_ids"], status="submitted"
        ).count()
        results["submit"]["queries"] = in_process_queries(
            "post", f"/d/{data['tokens'][-1]}/", data=portal_form(text, files)
        )
        # Last: where a request outlasts gunicorn's timeout, its worker is killed but its
        # queries run on in PostgreSQL and would slow whatever came after.
        measure("overview", "/o/load/monitoring/overview/", cookie)
    finally:
        server.terminate()
        server.wait(timeout=60)
        cancel_other_queries()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(static, ignore_errors=True)
    return results


SECTIONS = ["fan-out", "dispatcher", "pages", "purge", "email", "export", "scale-out"]


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
    parser.add_argument("--save", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--report-from",
        type=Path,
        help="write docs/PERFORMANCE.md from figures saved by --save, measuring nothing",
    )
    args = parser.parse_args(argv)
    sections = args.section or SECTIONS
    media = Path(tempfile.mkdtemp(prefix="bench-media-"))
    setup(media)
    if args.report_from:
        from django.db import connection

        saved = json.loads(args.report_from.read_text())
        # What the runs shared the machine with, said by whoever gathered them.
        write_report(
            saved["results"], connection.vendor, saved["small"], saved.get("conditions", "")
        )
        return saved["results"]
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
    }
    results: dict[str, Any] = {}
    # The outbox rows of the invitations are part of the fan-out; waking the drain is not.
    with (
        scopes_disabled(),
        mock.patch("dossiers.messages.kick"),
        mock.patch("dossiers.opening.kick"),
    ):
        reset_database()
        for name in sections:
            results[name] = runners[name]()
            print("\n" + "\n".join(RENDERERS[name](results[name])), flush=True)
            if args.save:  # after each section, so that a run stopped half-way keeps them
                saved = {"results": results, "small": small}
                args.save.write_text(json.dumps(saved, default=str))
    shutil.rmtree(media, ignore_errors=True)
    if not args.no_write and sections == SECTIONS:
        write_report(results, connection.vendor, small)
    return results


def render_fan_out(fan_out: list[dict]) -> list[str]:
    chunk = fan_out[0].get("chunk", 2000)
    lines = [
        "## 1. Fan-out: opening update dossiers for one group of 4 fields",
        "",
        "Ours is `monitoring.dispatch.open_run`: keyset pages of profiles"
        f" ({chunk:,} a page), each page opened by `dossiers.opening.open_dossiers` in one"
        " transaction and, on PostgreSQL, one statement of data-modifying CTEs: `new AS (`"
        " an `INSERT … SELECT … ON CONFLICT DO NOTHING` of the dossiers `RETURNING id,"
        " organization_id, profile_id`, then from `new` the items prefilled from the current"
        " values, each recipient's invitation in the outbox (`INSERT INTO {table}`, from"
        " `dossiers.messages.link_messages_insert`) and the closing of the dossiers they"
        " supersede (`superseded AS (`). The naive way is a loop of ORM creates, one profile"
        " at a time (a dossier, a prefill query, four items, then the profile's overview"
        " cells recomputed by `monitoring.overview.refresh`, as the product's other writes"
        " keep them), timed on the first"
        f" {fan_out[0]['naive_sample']:,} profiles or fewer, without the invitations. The"
        " floor writes the same rows as ours, the dossiers, their items and one invitation"
        " each in the outbox, in three hand-written `INSERT … SELECT` statements over all the"
        " profiles at once, and moves the same compliance overview's cells (one a profile and"
        " field, computed before the runs) in one `UPDATE … FROM`, in one transaction.",
        "",
        "| profiles | ours (dossiers/s) | naive (dossiers/s) | floor (dossiers/s) | ours ÷ naive"
        " (target ≥ 20) | ours ÷ floor (target ≥ 0.85) | queries (ours) | naive queries per"
        " profile | peak memory (ours) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in fan_out:
        lines.append(
            f"| {row['n']:,} | {row['ours_rate']:,.0f} | {row['naive_rate']:,.0f} |"
            f" {row['floor_rate']:,.0f} | {row['ours_rate'] / row['naive_rate']:.1f} |"
            f" {row['ours_rate'] / row['floor_rate']:.2f} | {row['ours_queries']:,} |"
            f" {row['naive_queries_per_profile']:.1f} | {row['ours_memory']:.1f} MB |"
        )
    growth = fan_out[-1]["ours_memory"] - fan_out[0]["ours_memory"]
    top, below = fan_out[-1], fan_out[-2] if len(fan_out) > 1 else fan_out[-1]
    lines += [
        "",
        f"Peak memory grows by {growth:.1f} MB from {fan_out[0]['n']:,} to"
        f" {fan_out[-1]['n']:,} profiles (target: within 50 MB). At {top['n']:,} profiles"
        f" ours runs at {top['ours_rate'] / below['ours_rate']:.2f} of its rate at"
        f" {below['n']:,} (target: within 20 %). Queries grow with the pages only, a fixed"
        " number a page (pinned in `tests/monitoring/test_fan_out_queries.py`: the page of"
        " ids, the one statement, the compliance overview's cells of the page's profiles),"
        " none for the webhooks when no endpoint listens beyond one look-up a run.",
        "",
    ]
    return lines


def render_scale_out(scale: dict) -> list[str]:
    one = scale["rows"][0]
    lines = [
        "## 7. Scale-out: the fan-out of many runs on real workers",
        "",
        f"{scale['runs']} runs of {scale['profiles']:,} profiles each (one organisation and"
        f" one group of 4 fields a run), {scale['runs'] * scale['profiles']:,} dossiers in all."
        " Ours is the product's task, `monitoring.tasks.open_run_dossiers`, one a run (as"
        " `monitoring.dispatch.dispatch_due` queues them). The tasks go through Redis to real"
        " Celery worker processes (`celery -A config worker --concurrency 1`) on the same"
        " PostgreSQL: one process, then two. The workers read a queue of their own (`-Q`),"
        " so the outbox drain that each page wakes is queued but not run while the runs are"
        " timed. The time"
        " runs from the first task sent to the last run finished (its `finished_at`); then"
        " the dossiers are counted, and those of one (group, period, profile) more than once.",
        "",
        "| workers | seconds | dossiers/s | speed-up | tasks per worker | worker CPU (s) |"
        " dossiers | duplicates | invitations |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in scale["rows"]:
        lines.append(
            f"| {row['label']} | {row['seconds']:.1f} | {row['rate']:,.0f} |"
            f" {one['seconds'] / row['seconds']:.2f} | {' + '.join(map(str, row['tasks']))} |"
            f" {row['worker_cpu']:.1f} | {row['dossiers']:,} | {row['duplicates']} |"
            f" {row['invitations']:,} |"
        )
    lines += [
        "",
        "Worker CPU is that of the workers' own processes (each with its pool) over the timed"
        " span, read from `/proc`; the rest of a page's time is PostgreSQL's.",
        "",
    ]
    return lines


def _growth(loads: list[dict]) -> str:
    first, last = (row["seconds"] / row["tasks"] for row in (loads[0], loads[-1]))
    return f"{(last / first - 1) * 100:+.0f} %"


def dispatcher_ratios(dispatcher: dict) -> dict[str, float]:
    """Beat's load beside our pass at our largest size. Beat is loaded at smaller sizes only
    (a million entries take minutes to load): its largest load's cost per task, times our
    number of groups, stands for it; measured at two sizes, its growth is shown."""
    largest = dispatcher["ours"][-1]
    return {
        variant: beat_per_task(dispatcher[variant]) * largest["groups"] / largest["seconds"]
        for variant in ("interval", "crontab")
    }


def render_dispatcher(dispatcher: dict) -> list[str]:
    ours, largest = dispatcher["ours"], dispatcher["ours"][-1]
    ratios = dispatcher_ratios(dispatcher)
    sizes = {
        variant: " and ".join(f"{row['tasks']:,}" for row in dispatcher[variant])
        for variant in ("interval", "crontab")
    }
    lines = [
        "## 2. The dispatcher at scale",
        "",
        "Monthly, quarterly, half-yearly and yearly update groups anchored on a day of the"
        " month, in five European time zones; one in"
        f" {dispatcher['due_every']:,} is due, and one in a hundred of those missed a period"
        " (beat down), which the pass folds into one run. Ours: one pass of"
        " `monitoring.dispatch.dispatch_due`. On PostgreSQL it is one statement for the common"
        " case: the claim (`FOR UPDATE OF g SKIP LOCKED`), each next occurrence computed by"
        " the database (`make_interval`, `AT TIME ZONE`), the `UPDATE` of `next_run_at` and"
        " the `INSERT … ON CONFLICT DO NOTHING RETURNING` of the runs. The groups that missed"
        " a period, or whose due moments lie within a day of a clock change, go through the"
        " Python arithmetic (`monitoring.dispatch.plan`) in the same transaction. Below each"
        " pass: that Python path taking every due group, as the pass did before, and the"
        " database's floor, two hand-written statements that move the same groups by a month"
        " and insert their runs (with the commit and its deferred foreign-key checks), with"
        " no claim and no date arithmetic.",
        "",
        "Beside it, the same groups kept as django-celery-beat `PeriodicTask`s, timing its"
        " `DatabaseScheduler` loading them (`all_as_schedule`, which it repeats after every"
        " change to any task): the cheapest beat can be, every task sharing one interval"
        " (which cannot say “the 15th of every third month”), and what these schedules need,"
        " one `CrontabSchedule` per group (08:00, the anchor day, the months, the zone),"
        " loaded at 07:00 UTC, when django-celery-beat's two-hour crontab filter keeps them"
        " all. Beat is loaded at"
        f" {sizes['interval']} tasks with the shared interval and {sizes['crontab']} with a"
        " crontab each (each crontab entry builds its schedule's model and parses its five"
        " fields), not a million: the last column shows its cost per task at each size"
        f" ({_growth(dispatcher['interval'])} from the smaller load to the larger with the"
        f" shared interval, {_growth(dispatcher['crontab'])} with a crontab each), and the"
        " larger load's cost per task times our number of groups stands for beat's load at"
        " our largest size.",
        "",
        "Each figure is the median of five passes (three for the Python path, the floor and"
        " the loads); the tables are vacuumed between passes, as autovacuum keeps them.",
        "",
        "| | groups or tasks | due | seconds | queries | µs per group or task |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in ours:
        lines += [
            f"| one dispatcher pass{' (target < 1 s)' if row is largest else ''} |"
            f" {row['groups']:,} | {row['due']:,} ({row['missed']:,} missed a period) |"
            f" {row['seconds']:.3f} | {row['queries']} |"
            f" {row['seconds'] / row['groups'] * 1e6:.2f} |",
            f"| the same, every due group through Python | {row['groups']:,} | {row['due']:,} |"
            f" {row['python_seconds']:.3f} | {row['python_queries']} |"
            f" {row['python_seconds'] / row['groups'] * 1e6:.2f} |",
            f"| floor: the same rows moved and recorded, nothing claimed or computed |"
            f" {row['groups']:,} | {row['due']:,} | {row['floor_seconds']:.3f} | 2 |"
            f" {row['floor_seconds'] / row['groups'] * 1e6:.2f} |",
        ]
    for variant, label in (("interval", "one shared interval"), ("crontab", "one crontab each")):
        for row in dispatcher[variant]:
            lines.append(
                f"| beat's load, {label} | {row['tasks']:,} | | {row['seconds']:.3f} |"
                f" {row['queries']} | {row['seconds'] / row['tasks'] * 1e6:.1f} |"
            )
    lines += ["", "| ratio: beat's load ÷ our pass | shared interval | crontab each |"]
    lines.append("| --- | ---: | ---: |")
    for row in ours:
        same = [
            next(
                (
                    f"{b['seconds'] / row['seconds']:.0f} times"
                    for b in dispatcher[variant]
                    if b["tasks"] == row["groups"]
                ),
                "",
            )
            for variant in ("interval", "crontab")
        ]
        if any(same):
            lines.append(
                f"| at {row['groups']:,} groups, beat loaded at the same size |"
                f" {same[0]} | {same[1]} |"
            )
    lines += [
        f"| at {largest['groups']:,} groups, beat's cost per task times"
        f" {largest['groups']:,} (target ≥ 100 for the shared interval) |"
        f" {ratios['interval']:.0f} times | {ratios['crontab']:.0f} times |",
        "",
    ]
    return lines


def render_purge(purge: dict) -> list[str]:
    return [
        "## 4. The purge",
        "",
        f"{purge['n']:,} update dossiers past their month, {purge['uploads']:,} of them with an"
        " upload not written back, on local disk. Ours is"
        " `dossiers.retention.purge_dossiers`.",
        "",
        "| seconds | dossiers/s | queries | peak memory | storage deletes |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {purge['seconds']:.1f} | {purge['n'] / purge['seconds']:,.0f} | {purge['queries']:,} |"
        f" {purge['memory']:.1f} MB | {purge['storage_deletes']:,} |",
        "",
        "On local disk a delete is one call per file. On S3 `profiles.storage.delete_keys`"
        " sends one `DeleteObjects` request per 1,000 keys"
        " (`tests/dossiers/test_purge_s3.py` counts them against moto's server).",
        "",
    ]


PAGE_ROWS = [
    ("trivial", "`/healthz` (no session, no database, no template)"),
    ("ceiling", "**ceiling**: the base layout, signed in (bench/urls.py)"),
    ("profile", "profile page"),
    ("dossiers", "dossier list, first page"),
    ("run", "a run's follow-up, first page of its outstanding list"),
    ("run_last", "the same outstanding list, last page"),
    ("overview", "compliance overview, first page with its counts"),
    ("review", "review queue"),
    ("settings", "organisation settings, one member"),
    ("api", "API `/api/v1/profiles/`, 100 a page"),
    ("submit_floor", "**submit floor**: the same body parsed, its files written (bench/urls.py)"),
    ("submit", "portal submit (20 fields, 2 documents of 1 MB)"),
]
# Each row's peer: the submit is measured against its floor, every page against the ceiling.
PEERS = {"submit": "submit_floor", "submit_floor": "submit_floor"}


def _peer_ratio(pages: dict, key: str) -> float:
    return pages[key]["rate"] / pages[PEERS.get(key, "ceiling")]["rate"]


def render_pages(pages: dict) -> list[str]:
    lines = [
        "## 3. Pages under load",
        "",
        "gunicorn (3 sync workers) on loopback, wrk with 16 connections for"
        f" {pages['seconds']} s a page, on the same 2 cores as PostgreSQL. The organisation"
        f" holds {pages['profiles']:,} contacts, each with a classic dossier (one in ten"
        f" waiting for review) and an update dossier of a run of {pages['run_size']:,} for a"
        " group of 10 monitored fields, so the dossier list pages through"
        f" {pages['dossier_count']:,} dossiers and the overview covers {pages['run_size']:,}"
        f" profiles by 10 fields; {pages['submitters']:,} more contacts each hold a dossier"
        " for the portal submit. The profile page shows one contact's"
        f" {pages['profile_fields']} fields, {pages['history_fields']} of them with"
        f" {pages['history']} history records each. These rows are written by set-based SQL"
        " (`bench.run.seed_pages`), then vacuumed and analysed as autovacuum would. The"
        " ceiling is a page of the same server that does what every back-office page does"
        " before its own work (session, user, membership, the base layout with its menus) and"
        " nothing else; the submit floor takes the submit's multipart body through the same"
        " middleware and writes its two files to storage, and nothing else. The API is"
        " called with an organisation key. Queries are counted in process for one request.",
        "",
        "| page | requests/s | ÷ ceiling, submit ÷ floor (target ≥ 0.5) | median |"
        " 95th percentile | queries |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in PAGE_ROWS:
        row = pages[key]
        lines.append(
            f"| {label} | {row['rate']:,.0f} | {_peer_ratio(pages, key):.2f} |"
            f" {row['p50']:.1f} ms | {row['p95']:.1f} ms | {row['queries']} |"
        )
    lines += [
        "",
        f"wrk counted {pages['submit']['requests']:,} submit responses and"
        f" {pages['submit']['submitted']:,} dossiers ended submitted (a request still in"
        " flight when wrk stops is served, but not counted).",
        "",
    ]
    return lines


def write_report(
    results: dict[str, Any], vendor: str, small: bool = False, conditions: str = ""
) -> None:
    (ROOT / "docs" / "PERFORMANCE.md").write_text(report_text(results, vendor, small, conditions))


def report_text(
    results: dict[str, Any], vendor: str, small: bool = False, conditions: str = ""
) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if vendor == "postgresql" else "SELECT sqlite_version()")
        database = cursor.fetchone()[0].split(" on ")[0]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "# Performance",
        "",
        (
            "Measured by `bench/run.py` in separate runs (`--section NAME --save FILE`, the"
            " figures gathered by `--report-from`); every figure is a ratio to something"
            " measured in the same section's run, since absolute times drift from one machine"
            " to the next. " + conditions + " Reproduce with:"
            if conditions
            else "Measured by `bench/run.py` in one run; every figure is a ratio to something"
            " measured in the same run, since absolute times drift from one machine to the"
            " next. Reproduce with:"
        ),
        "",
        "```sh",
        "make bench" + (" ARGS=--small" if small else ""),
        "# one section: make bench SECTION=pages",
        "# or: DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/run.py",
        "```",
        "",
        f"Machine: {os.cpu_count()} cores ({cpu}), {database}, Python {platform.python_version()}.",
        "",
    ]
    for name in SECTIONS:
        if name in results:
            lines += RENDERERS[name](results[name])
    return "\n".join(lines) + notes(results)


def notes(results: dict[str, Any]) -> str:
    """Each target met, or the gap with what limits it and the plan that would close it."""
    lines = ["", "## Targets, what limits each figure, and the plans", ""]
    if fan_out := results.get("fan-out"):
        worst = min(row["ours_rate"] / row["floor_rate"] for row in fan_out)
        naive = min(row["ours_rate"] / row["naive_rate"] for row in fan_out)
        growth = fan_out[-1]["ours_memory"] - fan_out[0]["ours_memory"]
        below = fan_out[-2] if len(fan_out) > 1 else fan_out[-1]
        kept = fan_out[-1]["ours_rate"] / below["ours_rate"]
        by_size = ", ".join(
            f"{row['ours_rate'] / row['floor_rate']:.2f} at {row['n']:,}" for row in fan_out
        )
        lines += [
            f"- **Fan-out: {_verdict(worst >= 0.85)}** (≥ 0.85 of the floor at every size;"
            f" {worst:.2f} at worst; rate at {fan_out[-1]['n']:,} within 20 % of"
            f" {below['n']:,} {_verdict(kept >= 0.8)}, {kept:.2f}; ≥ 20 times the naive loop"
            f" {_verdict(naive >= 20)}, {naive:.1f} at worst; memory"
            f" {_verdict(growth <= 50)}, +{growth:.1f} MB). The floor writes the same rows as"
            " ours (dossiers, items, invitations, the overview's cells), so the ratio compares like"
            " with like; it did not before this round, when ours also queued the invitations and"
            " the floor did not (0.22 at worst then). Profiled per page of 2,000 profiles, the"
            " fan-out took five statements besides the page of ids: the dossiers, their items, the"
            " invitations, the supersession, and a read of the page's dossiers for the"
            " “dossier.sent” webhooks even with no endpoint (a generator's first iterable is"
            " evaluated at once), plus the endpoints' look-up. Folded into one statement"
            " (`dossiers.opening._open_in_one_statement`, PostgreSQL; SQLite keeps the separate"
            " statements), the plan of the items and the invitations hashed every value and every"
            " profile of the organisation per page, as PostgreSQL cannot foresee which profiles a"
            " CTE returns; one array parameter of the page's profiles bounds each join to them. The"
            " endpoints are read once a run (`dossiers.signals.one_run`), the dossiers only when an"
            " endpoint listens. What is left is the floor's own work: inserting the rows with their"
            " indexes and, at each commit, the checks of their foreign keys (deferred, as Django"
            " declares them), which took about as long as the statement itself in the profile. A"
            " page is still committed on its own, so a worker killed half-way keeps what it"
            " finished and a repeat completes the rest; the page size stays at 2,000, the per-page"
            " cost beyond the rows (planning, the page of ids, the commit) being a few per cent of"
            " a page. A page also moves the compliance overview's cells its new requests ask for"
            " (`monitoring.overview.requests_opened`, one `UPDATE` of four cells a profile here, a"
            " statement of its own since the dossiers app does not know the overview's table;"
            " recomputing them instead was most of a page's time). Its items are gathered first"
            " (`MATERIALIZED`): on tables just emptied or never analysed, as a first run on a"
            " new database finds them, PostgreSQL otherwise read every item of a field for each"
            f" cell, 0.35 s for a page of 1,000. By size, ours ÷ floor reads {by_size}. The"
            " floor writes a whole run in one transaction, whose commit checks every deferred"
            " foreign key at once and whose cells' `UPDATE` joins the whole run; ours pays a"
            " fixed share per run besides its pages (the run's row read and finished with the"
            " count of its dossiers, the endpoints' look-up, the page of ids past the last"
            " page), which weighs most on a run of one page. Plan: for a run that fits in one"
            f" page, the run's bookkeeping in the page's transaction. At {fan_out[-1]['n']:,}"
            f" profiles ours runs at {kept:.2f} of its rate at {below['n']:,}, and the floor at"
            f" {fan_out[-1]['floor_rate'] / below['floor_rate']:.2f} of its own: what slows is"
            " the database's work on tables ten times larger (the overview's cells among them),"
            " which the floor's single transaction feels more than ours.",
        ]
    if dispatcher := results.get("dispatcher"):
        largest = dispatcher["ours"][-1]
        ratios = dispatcher_ratios(dispatcher)
        speedup = largest["python_seconds"] / largest["seconds"]
        floor = largest["seconds"] / largest["floor_seconds"]
        lines += [
            f"- **Dispatcher: pass under a second {_verdict(largest['seconds'] < 1)}"
            f" ({largest['seconds']:.3f} s for {largest['due']:,} due among"
            f" {largest['groups']:,} groups); ≥ 100 times beat's load"
            f" {_verdict(ratios['interval'] >= 100)}** ({ratios['interval']:.0f} times the"
            f" shared interval, {ratios['crontab']:.0f} times one crontab per group, beat's"
            " cost per task taken from its loads at smaller sizes). The common case no longer"
            " reaches Python: the database computes each next occurrence in the statement that"
            " claims, moves and records, which makes the pass"
            f" {speedup:.1f} times faster than the same groups through Python, and"
            f" {floor:.2f} times the database's floor, two statements that only write the same"
            " rows. What is left is that writing: a new version of each moved group (its"
            " `next_run_at` is indexed, so the update cannot be HOT and each of the group table's"
            " five indexes takes an entry, on pages spread across the table) and an inserted run"
            " with its four indexes (its own index on the group is gone, as the unique (group,"
            " period) index covers it) and two foreign keys checked at commit. Explained at"
            " 1,000,000 groups, the `UPDATE` of the groups is about 60 % of the statement, and"
            " passes vary by half from one to the next (0.37 to 0.69 s in one profile) with what"
            " PostgreSQL's buffers hold of a 300 MB table. Beat's load is Python alone: on a loaded"
            " machine it slowed more than our pass did (110 times ours under a load average of 5 to"
            " 10, in the report of 29 November 2026). Catch-up rows and rows near a clock change"
            " still cost a Python step each; they are rare by construction. Plan, for the floor"
            " itself: keep a group's `next_run_at` and `next_index` in a narrow table of their own"
            " (a key and the due index, small enough to stay in memory), so that a pass rewrites a"
            " few narrow rows instead of wide ones with five indexes. Beat's load grows with every"
            " task it keeps, due or not; the pass with the groups due.",
        ]
    if pages := results.get("pages"):
        below = [
            f"{label.split(' (')[0].split(',')[0]} {_peer_ratio(pages, key):.2f}"
            for key, label in PAGE_ROWS
            if key not in {"trivial", "ceiling", "submit_floor"} and _peer_ratio(pages, key) < 0.5
        ]
        ceiling_p50 = pages["ceiling"]["p50"]
        lines += [
            f"- **Pages: {_verdict(not below)}** (each ≥ ½ of the ceiling, the submit ≥ ½ of"
            " its floor"
            + (f"; below: {'; '.join(below)}" if below else "")
            + f"; the ceiling's median is {ceiling_p50:.1f} ms). Each page was profiled in"
            " process and its queries explained at this size. The follow-up counted its"
            " whole outstanding list and sorted it by name before each page: its counts by"
            " status now come from the index"
            " `dossier_run_status` alone, the list's length is taken from them, and its rows"
            " are read in name order from the index `profiles_in_overview_order` and cut at"
            " the page's end, a page past the middle read backwards"
            " (`monitoring.followup.OutstandingPages`), so that its first and last pages read"
            " about fifty rows; what grows with the run is the counts' one pass over its"
            f" {pages['run_size']:,} index entries on every view (median"
            f" {pages['run']['p50']:.1f} ms). The dossier list's “in all” is an exact count of"
            f" the organisation's {pages['dossier_count']:,} dossiers, one index-only pass on every"
            f" view (median {pages['dossiers']['p50']:.1f} ms); its rows come from the index"
            " `dossier_list`. The review queue sorted its waiting dossiers on every view and"
            " now reads them in order from the index `dossier_review_queue`; the API sorted"
            " the organisation's profiles for each cursor page and reads them from"
            " `profile_newest_first`. The profile page's"
            f" {pages['profile_fields']} value rows went through some forty template nodes"
            " each and are now rendered in Python (`profiles.value_rows`), the same HTML. A"
            " row's links are reversed once per pattern, not once per row"
            " (`organizations.links.row_link`, behind the `row_url` template tag). The"
            " settings page is Django's rendering of its two forms, each field through its"
            " templates. With a shared cache (`CACHE_URL`, as production has) sessions are"
            " `cached_db`, one query fewer on every signed-in page, the ceiling's included;"
            " this server runs without one, as a laptop does, and reads them from the"
            " database. The portal submit is measured against its floor, the same 2 MB body"
            " parsed and its files written: beyond that, the submission's"
            f" {pages['submit']['queries']} queries and the check of each upload's structure. The"
            " compliance overview reads its maintained cells (`monitoring.models."
            "ComplianceCell`): a page is the profiles' index in name order joined to about"
            " fifty cells, the counts by status one pass over the organisation's cells,"
            " kept in the cache under the organisation's version (`OverviewState`, renewed"
            " after each committed write) for at most"
            f" {_counts_seconds()} seconds, the clock's share. It is measured last"
            + (
                ": most of its requests outlasted wrk's 2-second timeout, hence no latency figures."
                if pages["overview"]["p50"] == 0
                else "."
            )
            + " Plans for what is left: the follow-up's counts and the dossier list's total"
            " kept as counters updated with each status change (or cached under a version, as"
            " the overview's counts are), the settings forms rendered without a template per"
            " field, and the submit's queries batched per item; then a run on a quiet machine,"
            " since under this load each page's Python time weighs several times the"
            " ceiling's.",
        ]
    if purge := results.get("purge"):
        lines += [
            "- **Purge** (no target beyond flat memory:"
            f" {purge['memory']:.1f} MB at {purge['n']:,} dossiers). Batches of 500 dossiers"
            " in one transaction each, with their audit records; files are deleted after each"
            " batch commits, one call per file on local disk, one request per 1,000 keys on"
            " S3. Each batch also recomputes the overview's cells of its dossiers' profiles,"
            " since a purged request no longer counts as the latest one asked.",
        ]
    if email := results.get("email"):
        worst = min(row["ours_rate"] / row["floor_rate"] for row in email)
        per = email[-1]["ours_queries"] / email[-1]["n"]
        growth = email[-1]["ours_memory"] - email[0]["ours_memory"]
        largest = email[-1]["n"]
        lines += [
            (
                f"- **E-mail at 100,000: not measured here.** The largest run is {largest:,}"
                " messages: a run of 100,000 (sent, sent again for memory, then the floor) at"
                " this machine's load would have taken over an hour; the full run,"
                " `make bench SECTION=email`, takes it."
                if largest < 100_000
                else ""
            ),
            f"- **E-mail: {_verdict(worst >= 0.5)}** (≥ ½ of the floor; {worst:.2f} at worst;"
            f" memory {_verdict(growth < 5)}, {growth:+.1f} MB). A batch reads and writes in"
            " a constant number of statements (the claim, the rows with what rendering reads,"
            " the tokens in one `bulk_create`, the items and their fields), plus one mark per"
            f" message ({per:.2f} queries a message in all): each message is marked sent as the"
            " server accepts it, so that a worker killed mid-batch sends again at most the one"
            " message in flight (`tests/outbox/test_killed_worker.py`), and those marks commit"
            " without waiting for the disk. Each (template, language, what the dossier shows)"
            " is rendered and put in MIME form once per batch; each copy fills in the name and"
            " the link. What separates it from the floor is per message, and it adds up rather"
            " than overlapping: measured at 5,000 messages, the worker's own CPU was 0.73 ms a"
            " message (0.87 ms before plain recipient addresses skipped Django's header parser,"
            " `outbox.mail.recipient`), PostgreSQL's and the sink's 1.03 ms together, and the"
            " wall time their sum, since each step waits for the one before (the server's"
            " reply, then the mark's commit). Marks sent through psycopg's pipeline mode, each"
            " overlapping the next message's preparation and committed before that message"
            " leaves, changed nothing measurable and were left out; overlapping a mark with the"
            " next SMTP exchange instead would let a killed worker send two messages again, not"
            " one. Each message is written three times, queued, claimed and marked, each time"
            " into every one of the outbox's indexes (its status and next attempt are in"
            " partial indexes, so neither update is HOT); this round took two of nine away,"
            " the `varchar_pattern_ops` index Django adds beside a unique `CharField`, which"
            " no query used, and the invitation's index on the many rows that are not"
            " invitations. Plan: a claim that does not rewrite the message (the lease kept in"
            " a narrow table of its own); beyond one worker's turns, drain workers side by side"
            " (the claim skips locked rows), whose turns interleave where there are cores for"
            " them.",
        ]
    if export := results.get("export"):
        worst = min(row["ours_rate"] / row["floor_rate"] for row in export)
        growth = export[-1]["ours_memory"] - export[0]["ours_memory"]
        lines += [
            f"- **Export: {_verdict(worst >= 0.25)}** (≥ ¼ of `COPY`; {worst:.2f} at worst;"
            f" memory {_verdict(growth < 5)}, {growth:+.1f} MB). Both run the same SELECT"
            " over the overview's stored cells, in the overview's order; ours turns each"
            " row (a tuple of the columns it writes) into a translated status, type and"
            " field label and a `csv.writer` line in Python, 500 lines a chunk of the"
            " streamed response, where `COPY` formats in the server. The rows are read 2,000"
            " at a time from a server-side cursor, so memory does not follow the number of"
            " rows.",
        ]
    if scale := results.get("scale-out"):
        one, *more = scale["rows"]
        two = more[-1] if more else one
        speed_up = one["seconds"] / two["seconds"]
        share = one["worker_cpu"] / one["seconds"]
        clean = all(row["duplicates"] == 0 for row in scale["rows"])
        lines += [
            "- **Scale-out: "
            + ("no duplicate, every dossier there" if clean else "duplicates found")
            + f"; two workers {speed_up:.2f} times as fast as one.** Each run's task opens its"
            " dossiers page by page; two workers take runs side by side, and a run delivered"
            " twice would find its dossiers there (ON CONFLICT DO NOTHING). On"
            f" {os.cpu_count()} cores the speed-up is bounded by the cores, not by the"
            " workers: a worker's own process used"
            f" {share:.2f} of a core in the one-worker measure, the rest of each page's time"
            " being its PostgreSQL backend (the statement, then the foreign keys' checks at"
            " the commit). One worker therefore keeps about one core busy, two workers at"
            " most both, which PostgreSQL's backends share with the workers' own processes,"
            " Redis and PostgreSQL's background writers: less than 2, whatever the number of"
            " workers. More cores (or a database server of its own) is what would raise it.",
        ]
    return "\n".join(lines) + "\n"


def _counts_seconds() -> int:
    from monitoring.overview import COUNTS_SECONDS as seconds

    return seconds


def _verdict(met: bool) -> str:
    return "met" if met else "not met"


RENDERERS: dict[str, Callable[[Any], list[str]]] = {
    "fan-out": render_fan_out,
    "dispatcher": render_dispatcher,
    "pages": render_pages,
    "purge": render_purge,
    "email": render_email,
    "export": render_export,
    "scale-out": render_scale_out,
}


if __name__ == "__main__":
    main()
