"""The dispatcher: claims due groups, records one run per period, fans out one task per run."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import zoneinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier
from dossiers.opening import open_dossiers
from dossiers.signals import one_run
from monitoring import schedule, spread
from monitoring.models import PER_PROFILE, Cadence, GroupDue, UpdateGroup, UpdateRun
from monitoring.schedule import first_index_on_or_after
from monitoring.selectors import due_q, due_sql, group_audience, profiles_asked
from monitoring.signals import run_finished
from organizations.models import Organization
from profiles.models import DataField

logger = logging.getLogger(__name__)

# A pass claims up to this many due groups. On PostgreSQL most are moved by one statement
# computed in the database (`_dispatch_in_database`): a pass costs about what writing their
# rows costs (docs/PERFORMANCE.md), so a morning's ten thousand go in one pass.
CLAIM_LIMIT = 10000
SWEEP = "monitoring.tasks.sweep_unfinished_runs"
SWEEP_LIMIT = 1000

# Claimed group: id, organisation, its time zone, start, count, unit, next index, spread.
Claimed = tuple[int, int, str, dt.date, int, str, int, int]


def dispatch_due(
    now: dt.datetime | None = None, limit: int = CLAIM_LIMIT, *, fan_out: bool = True
) -> list[int]:
    """One pass: returns the ids of the runs it recorded (and enqueues their fan-out).

    Crosses tenants by design. Due groups are claimed with SKIP LOCKED, so a second
    dispatcher at the same moment takes other groups or none, never the same ones; the
    unique (group, period) constraint makes a repeated run a no-op all the same. After
    downtime a group gets one run, for the latest missed period, with the others counted.

    On PostgreSQL the common case (no period missed, no clock change near either due
    moment) is claimed, recorded and moved by one statement; the rest of the claimed
    groups, and every group on other databases, go through the same arithmetic in Python.
    """
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        if connection.vendor == "postgresql":
            run_ids, rest = _dispatch_in_database(now, limit)
        else:
            run_ids, rest = [], _claim(now, limit)
        if rest:
            run_ids += _dispatch_in_python(rest, now)
        if run_ids and fan_out:
            transaction.on_commit(lambda: enqueue_runs(run_ids))
    return run_ids


# What a step of a group's schedule reads: the scheduled pass and "Send now" alike.
# Read from the group's `GroupDue` row, which is what a step locks and moves.
SCHEDULE_COLUMNS = (
    "group__organization_id",
    "group__organization__time_zone",
    "group__start_date",
    "group__interval_count",
    "group__interval_unit",
    "next_index",
    "group__spread_days",
)


def _claim(now: dt.datetime, limit: int) -> list[Claimed]:
    return list(
        GroupDue.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(due_q(now))
        .order_by("next_run_at")
        .values_list("group_id", *SCHEDULE_COLUMNS)[:limit]
    )


def plan(
    start: dt.date, count: int, unit: str, next_index: int, tz: ZoneInfo, now: dt.datetime
) -> tuple[int, int, dt.datetime, int, dt.datetime]:
    """The step of a due group at `now`, by the reference arithmetic of monitoring.schedule:
    (index of the period run, periods skipped, the period's due moment, the new next index,
    the new next_run_at). The database's statement must agree with it, row for row."""
    latest = next_index
    if schedule.due_at(schedule.occurrence(start, count, unit, next_index + 1), tz) <= now:
        # Periods were missed (downtime): one run, for the latest of them.
        latest = max(schedule.last_index_due(start, count, unit, tz, now) or 0, next_index)
    period = schedule.occurrence(start, count, unit, latest)
    following = schedule.occurrence(start, count, unit, latest + 1)
    return (
        latest,
        latest - next_index,
        schedule.due_at(period, tz),
        latest + 1,
        schedule.due_at(following, tz),
    )


def next_in_window(
    period: dt.date, days: int, tz: ZoneInfo, now: dt.datetime, following: dt.datetime
) -> dt.datetime | None:
    """The next moment a spread occurrence asks its next day's profiles, or None when its
    window is over (the group then moves to its next occurrence)."""
    later = [
        moment
        for moment in (schedule.due_at(day, tz) for day in spread.window(period, days))
        if now < moment < following
    ]
    return min(later, default=None)


def _dispatch_in_python(claimed: list[Claimed], now: dt.datetime) -> list[int]:
    runs, moves, spread_groups = [], [], set()
    for pk, org_id, tz_name, start, count, unit, next_index, days in claimed:
        tz = ZoneInfo(tz_name)
        latest, skipped, due, following_index, following_due = plan(
            start, count, unit, next_index, tz, now
        )
        period = schedule.occurrence(start, count, unit, latest)
        runs.append((org_id, pk, period, latest, skipped, due, days))
        later = next_in_window(period, days, tz, now, following_due) if days > 1 else None
        if days > 1:
            spread_groups.add(pk)
        # A spread occurrence stays the group's next one until its window is over: each
        # working day of it, a pass asks that day's profiles of the same run.
        moves.append(
            (latest, later, pk) if later is not None else (following_index, following_due, pk)
        )
    record_runs(runs, now)
    _move_groups(moves)
    wanted = {(group_id, period) for _org, group_id, period, *_rest in runs}
    found = [
        (pk, group_id)
        for pk, group_id, period in UpdateRun.objects.filter(
            group_id__in=[group_id for _org, group_id, *_rest in runs],
            period__in={period for _org, _group, period, *_rest in runs},
        ).values_list("pk", "group_id", "period")
        if (group_id, period) in wanted
    ]
    if spread_groups:
        # A run recorded on the window's first day opens its next day's profiles now: it is
        # unfinished again until then, so the sweep of unfinished runs keeps that promise.
        UpdateRun.objects.filter(
            pk__in=[pk for pk, group_id in found if group_id in spread_groups],
            finished_at__isnull=False,
        ).update(finished_at=None)
    return [pk for pk, _group in found]


def _occurrence_sql(k: str) -> str:
    """occurrence(start, count, unit, k) in SQL: PostgreSQL adds months and years the way
    relativedelta does, clamping to the month's last day (31 January + 1 month = 29 February)."""
    return (
        "(c.start_date + CASE c.interval_unit"
        f" WHEN 'days' THEN make_interval(days => c.interval_count * ({k}))"
        f" WHEN 'weeks' THEN make_interval(weeks => c.interval_count * ({k}))"
        f" WHEN 'months' THEN make_interval(months => c.interval_count * ({k}))"
        f" WHEN 'years' THEN make_interval(years => c.interval_count * ({k})) END)::date"
    )


def _dispatch_in_database(now: dt.datetime, limit: int) -> tuple[list[int], list[Claimed]]:
    """Claims the due groups and, in the same statement, records and moves those of the
    common case; returns their run ids and the claimed groups left to Python (periods
    missed, a clock change near a due moment, a date past year 9999, a zone the database
    does not know)."""
    group, due, run, org = (
        UpdateGroup._meta.db_table,
        GroupDue._meta.db_table,
        UpdateRun._meta.db_table,
        Organization._meta.db_table,
    )
    # Local due times repeat across groups (one date, a handful of zones), so each distinct
    # (zone, local time) is converted once: the conversions are most of the statement's work.
    # A moment is "steady" when the zone's offset is the same a day before and a day after:
    # then the local time exists exactly once and PostgreSQL's `AT TIME ZONE` finds the
    # instant zoneinfo finds. Near a change (a gap, a repeated hour, a skipped day) they may
    # pick different instants, so those rows are left to Python. The claim locks the groups'
    # narrow `GroupDue` rows only, so their ctid holds until commit: the update reaches each
    # without an index scan; the groups' wide rows are read, not written.
    sql = f"""
        WITH claimed AS (
            SELECT g.id, d.ctid AS tid, g.organization_id, o.time_zone, g.start_date,
                   g.interval_count, g.interval_unit, d.next_index, g.spread_days
            FROM {due} d
            JOIN {group} g ON g.id = d.group_id
            JOIN {org} o ON o.id = g.organization_id
            WHERE {due_sql("d", "g")}
            ORDER BY d.next_run_at
            LIMIT %(limit)s
            FOR UPDATE OF d SKIP LOCKED
        ), dated AS (
            SELECT c.*,
                   {_occurrence_sql("c.next_index")} + %(run_time)s::time AS local_period,
                   {_occurrence_sql("c.next_index + 1")} + %(run_time)s::time AS local_following
            FROM claimed c
        ), moments AS (
            SELECT DISTINCT m.time_zone, m.local
            FROM dated d CROSS JOIN LATERAL (
                VALUES (d.time_zone, d.local_period), (d.time_zone, d.local_following)
            ) AS m (time_zone, local)
            WHERE m.time_zone = ANY(%(zones)s) AND m.local < '10000-01-01'
        ), zoned AS (
            SELECT m.*, z.due,
                   (z.due - interval '1 day') AT TIME ZONE m.time_zone
                       = m.local - interval '1 day'
                   AND (z.due + interval '1 day') AT TIME ZONE m.time_zone
                       = m.local + interval '1 day' AS steady
            FROM moments m CROSS JOIN LATERAL (SELECT m.local AT TIME ZONE m.time_zone AS due) z
        ), planned AS (
            SELECT d.*, p.due, f.due AS following_due,
                   coalesce(
                       p.steady AND f.steady AND f.due > %(now)s AND d.spread_days = 1, false
                   ) AS fast
            FROM dated d
            LEFT JOIN zoned p ON p.time_zone = d.time_zone AND p.local = d.local_period
            LEFT JOIN zoned f ON f.time_zone = d.time_zone AND f.local = d.local_following
        ), moved AS (
            UPDATE {due} d SET next_index = p.next_index + 1, next_run_at = p.following_due
            FROM planned p WHERE p.fast AND d.ctid = p.tid
        ), recorded AS (
            INSERT INTO {run} (organization_id, group_id, period, "index", skipped, due_at,
                               created_at, dossiers_opened)
            SELECT p.organization_id, p.id, p.local_period::date, p.next_index, 0, p.due,
                   %(now)s, 0
            FROM planned p WHERE p.fast
            ON CONFLICT DO NOTHING
            RETURNING id
        )
        SELECT NULL::bigint, p.id, p.organization_id, p.time_zone, p.start_date,
               p.interval_count, p.interval_unit, p.next_index, p.spread_days
        FROM planned p WHERE NOT p.fast
        UNION ALL
        SELECT id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM recorded
        UNION ALL
        SELECT r.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM {run} r JOIN planned p ON p.fast AND r.group_id = p.id
            AND r.period = p.local_period::date
    """  # noqa: S608 - names from the models
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "now": now,
                "limit": limit,
                "zones": sorted(zones_known_to_database()),
                "run_time": schedule.RUN_TIME.isoformat(),
            },
        )
        rows = cursor.fetchall()
    # A run recorded before this pass is seen by the statement's snapshot; one it inserted is
    # returned by its INSERT: each id comes once.
    run_ids = [row[0] for row in rows if row[0] is not None]
    return run_ids, [cast(Claimed, tuple(row[1:])) for row in rows if row[0] is None]


@functools.cache
def zones_known_to_database() -> frozenset[str]:
    """The organisations' zones (Python's) that PostgreSQL knows too: read once per process,
    as listing them costs the database a walk of its zone files."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_timezone_names")
        names = {name for (name,) in cursor.fetchall()}
    return frozenset(names & zoneinfo.available_timezones())


def record_runs(runs: list[tuple], now: dt.datetime) -> None:
    """One UpdateRun per (group, period); a run recorded already is left as it is."""
    ops, quote = connection.ops, connection.ops.quote_name
    columns = [
        "organization_id",
        "group_id",
        "period",
        "index",
        "skipped",
        "due_at",
        "spread_days",
    ]
    rows = [
        (
            org_id,
            group_id,
            ops.adapt_datefield_value(period),
            index,
            skipped,
            ops.adapt_datetimefield_value(due),
            days,
            ops.adapt_datetimefield_value(now),
        )
        for org_id, group_id, period, index, skipped, due, days in runs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {UpdateRun._meta.db_table} "  # noqa: S608 - names from the model
            f"({', '.join(quote(c) for c in columns)}, created_at, dossiers_opened) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0) ON CONFLICT DO NOTHING",
            rows,
        )


def _move_groups(moves: list[tuple[int, dt.datetime, int]]) -> None:
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {GroupDue._meta.db_table} "  # noqa: S608 - name from the model
            "SET next_index = %s, next_run_at = %s WHERE group_id = %s",
            [(index, adapt(when), pk) for index, when, pk in moves],
        )


def enqueue_runs(run_ids: list[int]) -> None:
    from dossiers.background import enqueue
    from monitoring.tasks import open_run_dossiers

    for run_id in run_ids:
        enqueue(open_run_dossiers, run_id, sweep=SWEEP)


def sweep_unfinished_runs(now: dt.datetime | None = None, limit: int = SWEEP_LIMIT) -> list[int]:
    """Enqueues again the runs recorded but not finished a while after: their fan-out was
    lost (the broker down when the dispatcher committed, a task that failed for good).
    `open_run` is idempotent, so a run still in progress elsewhere costs a repeat, no harm.
    Crosses tenants by design.
    """
    now = now or timezone.now()
    cutoff = now - dt.timedelta(seconds=settings.RUN_SWEEP_AFTER_SECONDS)
    with scopes_disabled():
        run_ids = list(
            UpdateRun.objects.filter(finished_at__isnull=True, created_at__lte=cutoff)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
    if run_ids:
        logger.warning("%d unfinished runs enqueued again: %s", len(run_ids), run_ids)
        enqueue_runs(run_ids)
    return run_ids


def open_run(run_id: int, chunk_size: int | None = None) -> int:
    """Opens the run's dossiers for the profiles its group asks (`group_audience`); for a
    run spread over a window, those whose day of the window has come.

    Profiles are read in keyset-paginated chunks (id > last id), so memory stays flat and the
    queries grow with the number of chunks only. Safe to run twice, or after a crash half-way.
    """
    chunk_size = chunk_size or settings.MONITORING_CHUNK_SIZE
    # one_run: receivers of the chunks' signals read what a run does not change (the
    # organisation's webhook endpoints) once per run, not once per chunk.
    with one_run():
        # The run's row is read in its first page's transaction and finished in its last
        # one's: a run of one page, most runs, is one transaction (docs/PERFORMANCE.md).
        with transaction.atomic():
            with scopes_disabled():
                run = (
                    UpdateRun.objects.select_related("group", "organization")
                    .filter(pk=run_id)
                    .first()
                )
            if run is None:
                return 0
            pages = _Pages(run, chunk_size)
            if pages.open_next():
                return pages.finish()
        while True:
            with transaction.atomic():
                if pages.open_next():
                    return pages.finish()


class _Pages:
    """A run's fan-out, a page of profiles at a time, each in its caller's transaction."""

    def __init__(self, run: UpdateRun, chunk_size: int) -> None:
        self.run, self.chunk_size, self.last_id = run, chunk_size, 0
        with scope(organization=run.organization):
            self.fields = list(
                DataField.objects.active()
                .filter(group_membership__group=run.group)
                .order_by("position", "id")
            )
            self.asked, self.complete = _asked_now(run)

    def open_next(self) -> bool:
        """Opens the next page's dossiers; True when no page follows."""
        if not self.fields:
            return True
        run, group = self.run, self.run.group
        # One id beyond the page says whether another follows, without reading an empty page.
        wanted = self.chunk_size + 1
        with scope(organization=run.organization):
            if group.cadence in PER_PROFILE:
                # A rolling or tiered group's run asks the profiles due that day only.
                read = profiles_asked(group, run.period, self.last_id, wanted)
            else:
                read = list(
                    self.asked.filter(id__gt=self.last_id)
                    .order_by("id")
                    .values_list("id", flat=True)[:wanted]
                )
            ids = read[: self.chunk_size]
            if ids:
                open_dossiers(
                    run.organization,
                    ids,
                    self.fields,
                    kind=Dossier.Kind.UPDATE,
                    title=group.title,
                    update_group_id=group.pk,
                    period=run.period,
                    policy=group.request_policy(),
                )
                self.last_id = ids[-1]
        return len(read) < wanted

    def finish(self) -> int:
        """Records the count of the run's dossiers; the first finish tells the listeners."""
        run = self.run
        with scope(organization=run.organization):
            opened = Dossier.objects.filter(update_group=run.group, period=run.period).count()
            finished = {"finished_at": timezone.now(), "dossiers_opened": opened}
            # A conditional UPDATE claims the first finish: a repeat, or a worker finishing
            # the same run at the same moment, changes no row and tells no one again.
            first_finish = UpdateRun.objects.filter(pk=run.pk, finished_at__isnull=True).update(
                **finished
            )
            if not first_finish:
                UpdateRun.objects.filter(pk=run.pk).update(**finished)
            elif self.complete:
                run.dossiers_opened = opened
                run_finished.send(sender=UpdateRun, run=run)
        return opened


def _asked_now(run: UpdateRun) -> tuple[Any, bool]:
    """Whom the run asks at this pass, and whether that is everyone it will ask."""
    asked = group_audience(run.group)
    if run.spread_days <= 1:
        return asked, True
    today = timezone.now().astimezone(run.organization.tzinfo).date()
    days = [i for i, day in enumerate(spread.window(run.period, run.spread_days)) if day <= today]
    # The profiles of the days passed already have their dossier: only the others are read.
    opened = Dossier.objects.filter(
        update_group_id=run.group_id, period=run.period, profile_id=OuterRef("pk")
    )
    asked = asked.alias(spread_day=spread.SpreadDay("uuid", run.spread_days)).filter(
        ~Exists(opened), spread_day__in=days
    )
    return asked, len(days) == run.spread_days


def current_index(
    start: dt.date, count: int, unit: str, today: dt.date, next_index: int = 0
) -> int:
    """The period a group is in today: its latest occurrence on or before today, or its first
    when it has not started yet (sending now then sends that first period early).

    A period already run ahead of its date (the group has moved to `next_index`) is the
    current one from then on: going back to an earlier period would open a second dossier
    for everyone who answered and leave two open ones for those who had not.
    """
    k = first_index_on_or_after(start, count, unit, today)
    if schedule.occurrence(start, count, unit, k) > today and k > 0:
        k -= 1
    return max(k, next_index - 1)


def dispatch_group_now(
    group_id: int, now: dt.datetime | None = None, *, fan_out: bool = True
) -> int | None:
    """ "Send now": records the run of the group's current period through the dispatcher's
    own steps and returns its id (None for a paused or unknown group, or one whose profiles
    are due each on their own day).

    Idempotent like a scheduled pass: a second click, or the scheduled run of the same
    period, finds the run recorded and its dossiers open, and opens nothing twice; the
    group moves past the period so that beat does not send it again.
    """
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        # The group's `GroupDue` row is what a scheduled pass locks: taking it here keeps the
        # two from moving the group at once.
        row = (
            GroupDue.objects.select_for_update(of=("self",))
            .filter(group_id=group_id, group__is_active=True, group__cadence=Cadence.CALENDAR)
            .values_list(*SCHEDULE_COLUMNS)
            .first()
        )
        if row is None:
            return None
        org_id, tz_name, start, count, unit, next_index, days = row
        tz = ZoneInfo(tz_name)
        k = current_index(start, count, unit, now.astimezone(tz).date(), next_index)
        period = schedule.occurrence(start, count, unit, k)
        record_runs([(org_id, group_id, period, k, 0, schedule.due_at(period, tz), 1)], now)
        if days > 1:
            # Sent now: the period's remaining days are asked now too, not spread any more.
            UpdateRun.objects.filter(group_id=group_id, period=period).update(
                spread_days=1, finished_at=None
            )
        if next_index <= k:
            following = schedule.occurrence(start, count, unit, k + 1)
            _move_groups([(k + 1, schedule.due_at(following, tz), group_id)])
        run_id = UpdateRun.objects.get(group_id=group_id, period=period).pk
        if fan_out:
            transaction.on_commit(lambda: enqueue_runs([run_id]))
    return run_id
