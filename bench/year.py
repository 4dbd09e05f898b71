"""A year of one organisation's update groups on the real tasks and actions, for what each
profile costs the database a year (docs/SCALING.md).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_year python -m bench.year --profiles 1000

The database's tables are dropped and migrated afresh: use a database of its own. N contacts
with an e-mail address, two groups: a quarterly proof of address (2 text fields) and a
yearly KYC (4 text fields), on a calendar, without review. Each simulated day at noon UTC
every periodic job of the beat schedule runs once, in process (the dispatcher and its
fan-out, the outbox's drain to a dummy e-mail backend, reminders, digests, purges, the
nightly checks), then a share of the clients whose invitation is `--answer-after` days old
answer every item through `dossiers.actions.save_draft` and `submit` (a new value each
time, written back to the profile). The others are reminded, their requests expire and are
superseded by the next period's. At the end: rows and `pg_total_relation_size` of each
table, divided by N.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import tempfile
from pathlib import Path
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend

from bench.common import reset_database, setup

START = dt.date(2027, 1, 4)


class CountingBackend(BaseEmailBackend):
    """Accepts every message and counts it: the e-mails a year sends."""

    sent = 0

    def send_messages(self, email_messages: Any) -> int:
        CountingBackend.sent += len(email_messages)
        return len(email_messages)


def build(n: int) -> Any:
    from monitoring.models import GroupField, UpdateGroup
    from organizations.models import Organization
    from profiles.models import DataField, FieldValue, Kind, Profile

    org = Organization.objects.create(name="Year", slug="year")
    labels = ["Address", "City", "Occupation", "Employer", "Nationality", "Income band"]
    fields = [
        DataField.objects.create(
            organization=org, applies_to=Kind.CONTACT, label=label, type="text", position=i
        )
        for i, label in enumerate(labels)
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
        FieldValue.objects.bulk_create(
            FieldValue(organization=org, profile=p, field=f, value="initial")
            for p in profiles
            for f in fields
        )
    for title, count, unit, asked in (
        ("Proof of address", 3, "months", fields[:2]),
        ("KYC", 1, "years", fields[2:]),
    ):
        group = UpdateGroup(
            organization=org,
            title=title,
            applies_to=Kind.CONTACT,
            start_date=START,
            interval_count=count,
            interval_unit=unit,
        )
        group.schedule_from()
        group.save()
        GroupField.objects.bulk_create(
            GroupField(field=f, group=group, organization=org, applies_to=Kind.CONTACT)
            for f in asked
        )
    return org


def answer(org: Any, day: dt.date, share: float, after: int) -> int:
    """The clients invited `after` days before `day` who answer (a stable share of them)."""
    from django_scopes import scope

    from dossiers import actions
    from dossiers.models import Dossier
    from organizations.actors import Actor

    invited = day - dt.timedelta(days=after)
    answered = 0
    with scope(organization=org):
        dossiers = list(
            Dossier.objects.filter(
                organization=org,
                status=Dossier.Status.OPEN,
                created_at__date=invited,
            )
            .select_related("profile", "organization")
            .order_by("id")
        )
        for dossier in dossiers:
            if dossier.profile_id % 100 >= share * 100:
                continue
            actor = Actor.of_client(dossier.profile)
            items = dossier.items.all()
            actions.save_draft(
                dossier,
                answers={item.pk: f"{day.isoformat()} {item.pk}" for item in items},
                uploads={},
                actor=actor,
            )
            actions.submit(dossier, actor=actor)
            answered += 1
    return answered


def run_periodic_jobs() -> None:
    from config.beat import AppsBeatSchedule
    from config.celery import app

    for entry in AppsBeatSchedule().values():
        # Registered as its module is imported, as a worker's autodiscovery does.
        importlib.import_module(entry["task"].rsplit(".", 1)[0])
        app.tasks[entry["task"]].apply(throw=True)


def sizes() -> list[tuple[str, int, int, float]]:
    """(table, rows, bytes with its indexes and TOAST, a row's average bytes) of every table
    that holds rows: at a few hundred profiles a table's pages round its size up, where the
    rows' own bytes do not."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute(
            "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables"
            " ORDER BY pg_total_relation_size(relid) DESC"
        )
        tables = cursor.fetchall()
        found = []
        for name, size in tables:
            cursor.execute(f'SELECT count(*), avg(pg_column_size(t.*)) FROM "{name}" t')
            rows, width = cursor.fetchone()
            if rows:
                found.append((name, rows, size, float(width)))
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--answer-share", type=float, default=0.85)
    parser.add_argument("--answer-after", type=int, default=3)
    args = parser.parse_args(argv)
    setup(Path(tempfile.mkdtemp(prefix="bench-year-")))
    import time_machine
    from django.conf import settings
    from django_scopes import scopes_disabled

    from bench.__main__ import create_database_if_missing
    from config.celery import app

    settings.EMAIL_BACKEND = "bench.year.CountingBackend"
    # Each task in process, as a worker would run it: a run's fan-out on the dispatcher's
    # commit, the drain as the outbox wakes it.
    app.conf.task_always_eager = True
    create_database_if_missing()
    with scopes_disabled(), time_machine.travel(dt.datetime(2027, 1, 1, 12, tzinfo=dt.UTC)):
        reset_database()
        org = build(args.profiles)
    before = {name: (rows, size) for name, rows, size, _width in sizes()}
    answered = 0
    for offset in range(args.days):
        day = START + dt.timedelta(days=offset)
        noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
        with time_machine.travel(noon, tick=False), scopes_disabled():
            run_periodic_jobs()
            answered += answer(org, day, args.answer_share, args.answer_after)
    n = args.profiles
    from django.db.models import Sum

    from monitoring.models import UpdateRun

    with scopes_disabled():
        opened = UpdateRun.objects.aggregate(n=Sum("dossiers_opened"))["n"] or 0
    print(
        f"{n:,} profiles, {args.days} days: {opened:,} dossiers opened by runs,"
        f" {answered:,} answered, {CountingBackend.sent:,} e-mails sent"
    )
    print(
        "| table | rows before | rows after | the year's rows per profile"
        " | a row's bytes | the year's bytes per profile (rows times row bytes; with indexes) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    grown = total = 0.0
    for name, rows, size, width in sizes():
        rows_before, size_before = before.get(name, (0, 0))
        grown += size - size_before
        total += (rows - rows_before) * width
        print(
            f"| `{name}` | {rows_before:,} | {rows:,} | {(rows - rows_before) / n:.2f} |"
            f" {width:,.0f} | {(rows - rows_before) * width / n:,.0f};"
            f" {(size - size_before) / n:,.0f} |"
        )
    print(f"| all | | | | | {total / n:,.0f}; {grown / n:,.0f} |")


if __name__ == "__main__":
    main()
