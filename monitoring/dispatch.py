"""The dispatcher: claims due groups, records one run per period, fans out one task per run."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier
from dossiers.services import open_dossiers
from monitoring import schedule
from monitoring.models import UpdateGroup, UpdateRun
from profiles.models import DataField, Profile

logger = logging.getLogger(__name__)

CLAIM_LIMIT = 1000


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
        groups = list(
            UpdateGroup.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(is_active=True, next_run_at__lte=now)
            .select_related("organization")
            .order_by("next_run_at")[:limit]
        )
        if not groups:
            return []
        runs = []
        for group in groups:
            tz = group.organization.tzinfo
            latest = schedule.last_index_due(
                group.start_date, group.interval_count, group.interval_unit, tz, now
            )
            latest = max(latest if latest is not None else group.next_index, group.next_index)
            period = group.occurrence(latest)
            runs.append(
                UpdateRun(
                    organization_id=group.organization_id,
                    group=group,
                    period=period,
                    index=latest,
                    skipped=latest - group.next_index,
                    due_at=schedule.due_at(period, tz),
                )
            )
            group.next_index = latest + 1
            group.next_run_at = schedule.due_at(group.occurrence(latest + 1), tz)
        UpdateRun.objects.bulk_create(runs, ignore_conflicts=True)
        UpdateGroup.objects.bulk_update(groups, ["next_index", "next_run_at"])
        wanted = {(run.group_id, run.period) for run in runs}
        run_ids = [
            pk
            for pk, group_id, period in UpdateRun.objects.filter(
                group_id__in=[g.pk for g in groups], period__in={r.period for r in runs}
            ).values_list("pk", "group_id", "period")
            if (group_id, period) in wanted
        ]
        if fan_out:
            transaction.on_commit(lambda: _enqueue_runs(run_ids))
    return run_ids


def _enqueue_runs(run_ids: list[int]) -> None:
    from dossiers.services import enqueue
    from monitoring.tasks import open_run_dossiers

    for run_id in run_ids:
        enqueue(open_run_dossiers, run_id)


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
    with scope(organization=organization):
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
        UpdateRun.objects.filter(pk=run.pk).update(
            finished_at=timezone.now(), dossiers_opened=opened
        )
    return opened
