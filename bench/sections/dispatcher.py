"""Section 2, the dispatcher at scale, beside django-celery-beat's load and the database's floor."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

from bench.common import analyze, measured, median, truncate

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

    from monitoring.models import GroupDue, UpdateGroup
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
            """
            CREATE TEMPORARY TABLE bench_new AS
            SELECT i, o.id AS organization_id, s.start, s.n, s.k,
                   (s.start + make_interval(months => s.n * s.k) + time '08:00')
                       AT TIME ZONE o.time_zone AS due
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
        cursor.execute(
            f"""
            INSERT INTO {UpdateGroup._meta.db_table} (uuid, title, applies_to, start_date,
                interval_count, interval_unit, is_active, created_at, organization_id,
                extend_expiry, review_required, message, translations, remind_after,
                remind_before)
            SELECT gen_random_uuid(), 'G' || i, 'contact', start, n, 'months', true, now(),
                   organization_id, false, false, '', '{{}}', '[3, 10]', '[2]'
            FROM bench_new ORDER BY i
            """
        )
        cursor.execute(
            f"""
            INSERT INTO {GroupDue._meta.db_table} (group_id, next_index, next_run_at, dispatched)
            SELECT g.id, b.k, b.due, true
            FROM bench_new b JOIN {UpdateGroup._meta.db_table} g ON g.title = 'G' || b.i
            """
        )
        cursor.execute("DROP TABLE bench_new")
        cursor.execute("DROP TABLE IF EXISTS bench_due")
        cursor.execute(
            "CREATE TABLE bench_due AS SELECT group_id AS id, next_index, next_run_at"
            f" FROM {GroupDue._meta.db_table} WHERE next_run_at <= %s",
            [DISPATCH_NOW],
        )
    analyze()
    return GroupDue.objects.filter(next_run_at__lte=DISPATCH_NOW).count()


def reset_due() -> None:
    """The due groups due again, and the old versions of their rows vacuumed away, as
    autovacuum does on a live database between one day's passes and the next."""
    from django.db import connection

    truncate("monitoring_updaterun")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE monitoring_groupdue d SET next_index = b.next_index,"
            " next_run_at = b.next_run_at FROM bench_due b WHERE d.group_id = b.id"
        )
        cursor.execute(
            "VACUUM ANALYZE monitoring_updategroup, monitoring_groupdue, monitoring_updaterun"
        )


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
                "UPDATE monitoring_groupdue SET next_index = next_index + 1,"
                " next_run_at = next_run_at + interval '1 month' WHERE group_id = ANY(%s)",
                [due_ids],
            )
            cursor.execute(
                "INSERT INTO monitoring_updaterun (organization_id, group_id, period, index,"
                " skipped, due_at, created_at, dossiers_opened) SELECT g.organization_id, g.id,"
                " g.start_date, 0, 0, d.next_run_at, now(), 0 FROM monitoring_updategroup g"
                " JOIN monitoring_groupdue d ON d.group_id = g.id WHERE g.id = ANY(%s)",
                [due_ids],
            )
        floors.append(floor)
    ours, every_row, floor = median(passes), median(python), median(floors)
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
    load = median(loads)
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


def beat_per_task(loads: list[dict]) -> float:
    """Seconds per task of the largest load measured (the loads grow linearly)."""
    return loads[-1]["seconds"] / loads[-1]["tasks"]


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
        " case: the claim of the due groups' narrow rows (`monitoring.models.GroupDue`, the"
        " next index and its moment; `FOR UPDATE OF d SKIP LOCKED`), each next occurrence"
        " computed by the database (`make_interval`, `AT TIME ZONE`), the `UPDATE` of those"
        " rows' `next_run_at` and the `INSERT … ON CONFLICT DO NOTHING RETURNING` of the"
        " runs; the groups' wide rows are read, not written. The groups that missed"
        " a period, or whose due moments lie within a day of a clock change, go through the"
        " Python arithmetic (`monitoring.dispatch.plan`) in the same transaction. Below each"
        " pass: that Python path taking every due group, as the pass did before, and the"
        " database's floor, two hand-written statements that move the same narrow rows by a month"
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
