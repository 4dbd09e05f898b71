"""The dispatcher: claims due groups, records one run per period, fans out one task per run."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier
from dossiers.opening import open_dossiers
from dossiers.signals import one_run
from monitoring import schedule
from monitoring.models import UpdateGroup, UpdateRun
from monitoring.schedule import first_index_on_or_after
from monitoring.signals import run_finished
from profiles.models import DataField, Profile

logger = logging.getLogger(__name__)

CLAIM_LIMIT = 1000
SWEEP = "monitoring.tasks.sweep_unfinished_runs"


def dispatch_due(
    now: dt.datetime | None = None, limit: int = CLAIM_LIMIT, *, fan_out: bool = True
) -> list[int]:
    """One pass: returns the ids of the runs it recorded (and enqueues their fan-out).

    Crosses tenants by design. Due groups are claimed with SKIP LOCKED, so a second
    dispatcher at the same moment takes other groups or none, never the same ones; the
    unique (group, period) constraint makes a repeated run a no-op all the same. After
    downtime a group gets one run, for the latest missed period, with the others counted.
    """
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        # Plain rows, not model instances: a pass over a thousand due groups stays well
        # under a second (docs/PERFORMANCE.md).
        claimed = list(
            UpdateGroup.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(is_active=True, next_run_at__lte=now)
            .order_by("next_run_at")
            .values_list(
                "pk",
                "organization_id",
                "organization__time_zone",
                "start_date",
                "interval_count",
                "interval_unit",
                "next_index",
            )[:limit]
        )
        if not claimed:
            return []
        runs, moves = [], []
        for pk, org_id, tz_name, start, count, unit, next_index in claimed:
            tz = ZoneInfo(tz_name)
            latest = next_index
            if schedule.due_at(schedule.occurrence(start, count, unit, next_index + 1), tz) <= now:
                # Periods were missed (downtime): one run, for the latest of them.
                latest = max(schedule.last_index_due(start, count, unit, tz, now) or 0, next_index)
            period = schedule.occurrence(start, count, unit, latest)
            following = schedule.occurrence(start, count, unit, latest + 1)
            runs.append(
                (org_id, pk, period, latest, latest - next_index, schedule.due_at(period, tz))
            )
            moves.append((latest + 1, schedule.due_at(following, tz), pk))
        _record_runs(runs, now)
        _move_groups(moves)
        wanted = {(group_id, period) for _org, group_id, period, *_rest in runs}
        run_ids = [
            pk
            for pk, group_id, period in UpdateRun.objects.filter(
                group_id__in=[group_id for _org, group_id, *_rest in runs],
                period__in={period for _org, _group, period, *_rest in runs},
            ).values_list("pk", "group_id", "period")
            if (group_id, period) in wanted
        ]
        if fan_out:
            transaction.on_commit(lambda: _enqueue_runs(run_ids))
    return run_ids


def _record_runs(runs: list[tuple], now: dt.datetime) -> None:
    """One UpdateRun per (group, period); a run recorded already is left as it is."""
    ops, quote = connection.ops, connection.ops.quote_name
    columns = ["organization_id", "group_id", "period", "index", "skipped", "due_at"]
    rows = [
        (
            org_id,
            group_id,
            ops.adapt_datefield_value(period),
            index,
            skipped,
            ops.adapt_datetimefield_value(due),
            ops.adapt_datetimefield_value(now),
        )
        for org_id, group_id, period, index, skipped, due in runs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {UpdateRun._meta.db_table} "  # noqa: S608 - names from the model
            f"({', '.join(quote(c) for c in columns)}, created_at, dossiers_opened) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, 0) ON CONFLICT DO NOTHING",
            rows,
        )


def _move_groups(moves: list[tuple[int, dt.datetime, int]]) -> None:
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {UpdateGroup._meta.db_table} "  # noqa: S608 - name from the model
            "SET next_index = %s, next_run_at = %s WHERE id = %s",
            [(index, adapt(when), pk) for index, when, pk in moves],
        )


def _enqueue_runs(run_ids: list[int]) -> None:
    from dossiers.background import enqueue
    from monitoring.tasks import open_run_dossiers

    for run_id in run_ids:
        enqueue(open_run_dossiers, run_id, sweep=SWEEP)


def sweep_unfinished_runs(now: dt.datetime | None = None, limit: int = CLAIM_LIMIT) -> list[int]:
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
        _enqueue_runs(run_ids)
    return run_ids


def open_run(run_id: int, chunk_size: int | None = None) -> int:
    """Opens the run's dossiers for every active profile of the group's type.

    Profiles are read in keyset-paginated chunks (id > last id), so memory stays flat and the
    queries grow with the number of chunks only. Safe to run twice, or after a crash half-way.
    """
    with scopes_disabled():
        run = UpdateRun.objects.select_related("group", "organization").filter(pk=run_id).first()
    if run is None:
        return 0
    chunk_size = chunk_size or settings.MONITORING_CHUNK_SIZE
    group, organization = run.group, run.organization
    # one_run: receivers of the chunks' signals read what a run does not change (the
    # organisation's webhook endpoints) once per run, not once per chunk.
    with scope(organization=organization), one_run():
        fields = list(
            DataField.objects.filter(update_group=group, archived_at__isnull=True).order_by(
                "position", "id"
            )
        )
        if fields:
            last_id = 0
            while True:
                ids = list(
                    Profile.objects.filter(
                        organization=organization,
                        kind=group.applies_to,
                        archived_at__isnull=True,
                        id__gt=last_id,
                    )
                    .order_by("id")
                    .values_list("id", flat=True)[:chunk_size]
                )
                if not ids:
                    break
                open_dossiers(
                    organization,
                    ids,
                    fields,
                    kind=Dossier.Kind.UPDATE,
                    title=group.title,
                    update_group_id=group.pk,
                    period=run.period,
                )
                last_id = ids[-1]
        opened = Dossier.objects.filter(update_group=group, period=run.period).count()
        first_finish = UpdateRun.objects.filter(pk=run.pk, finished_at__isnull=True).exists()
        UpdateRun.objects.filter(pk=run.pk).update(
            finished_at=timezone.now(), dossiers_opened=opened
        )
        if first_finish:
            run.dossiers_opened = opened
            run_finished.send(sender=UpdateRun, run=run)
    return opened


def current_index(start: dt.date, count: int, unit: str, today: dt.date) -> int:
    """The period a group is in today: its latest occurrence on or before today, or its first
    when it has not started yet (sending now then sends that first period early)."""
    k = first_index_on_or_after(start, count, unit, today)
    if schedule.occurrence(start, count, unit, k) > today and k > 0:
        k -= 1
    return k


def dispatch_group_now(
    group_id: int, now: dt.datetime | None = None, *, fan_out: bool = True
) -> int | None:
    """ "Send now": records the run of the group's current period through the dispatcher's
    own steps and returns its id (None for a paused or unknown group).

    Idempotent like a scheduled pass: a second click, or the scheduled run of the same
    period, finds the run recorded and its dossiers open, and opens nothing twice; the
    group moves past the period so that beat does not send it again.
    """
    now = now or timezone.now()
    with scopes_disabled(), transaction.atomic():
        row = (
            UpdateGroup.objects.select_for_update(of=("self",))
            .filter(pk=group_id, is_active=True)
            .values_list(
                "organization_id",
                "organization__time_zone",
                "start_date",
                "interval_count",
                "interval_unit",
                "next_index",
            )
            .first()
        )
        if row is None:
            return None
        org_id, tz_name, start, count, unit, next_index = row
        tz = ZoneInfo(tz_name)
        k = current_index(start, count, unit, now.astimezone(tz).date())
        period = schedule.occurrence(start, count, unit, k)
        _record_runs([(org_id, group_id, period, k, 0, schedule.due_at(period, tz))], now)
        if next_index <= k:
            following = schedule.occurrence(start, count, unit, k + 1)
            _move_groups([(k + 1, schedule.due_at(following, tz), group_id)])
        run_id = UpdateRun.objects.get(group_id=group_id, period=period).pk
        if fan_out:
            transaction.on_commit(lambda: _enqueue_runs([run_id]))
    return run_id
