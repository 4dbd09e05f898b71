"""Background exports: the task writes the file a page of profiles at a time, moving the
job's progress after each, then stores it for its member to download; a day later the
sweep forgets it (the file recorded for deletion in the same transaction)."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import tempfile

from django.core.files import File
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from imports import export as exporting
from imports.models import ExportJob
from organizations.csvexport import csv_lines
from organizations.models import Organization
from profiles.storage import forget

logger = logging.getLogger(__name__)

# Up to this many profiles an export is written in the response, as it is asked; past it,
# a task writes it while the page shows its progress.
INLINE_ROWS = 2000
KEPT = dt.timedelta(days=1)
# A page of profiles takes seconds: a job untouched this long has lost its worker.
STALLED = dt.timedelta(minutes=15)


def in_background(organization: Organization, kind: str) -> bool:
    return bool(exporting.profiles(organization, kind).count() > INLINE_ROWS)


def stalled(now: dt.datetime) -> Q:
    """Jobs no worker is moving: queued or running, and untouched for a while."""
    waiting = (ExportJob.Status.QUEUED, ExportJob.Status.RUNNING)
    return Q(status__in=waiting, touched_at__lt=now - STALLED)


def run(job: ExportJob) -> ExportJob:
    """Writes the job's file once: a task delivered again while another runs it finds it
    claimed and stops; one whose worker died (nothing moved for `STALLED`) starts over."""
    now = timezone.now()
    claimed = (
        ExportJob.objects.filter(pk=job.pk)
        .filter(Q(status=ExportJob.Status.QUEUED) | stalled(now))
        .update(status=ExportJob.Status.RUNNING, rows_done=0, touched_at=now)
    )
    if not claimed:
        job.refresh_from_db()
        return job
    organization = job.organization

    def moved(lines: int) -> None:
        ExportJob.objects.filter(pk=job.pk).update(
            rows_done=F("rows_done") + lines, touched_at=timezone.now()
        )

    try:
        with tempfile.TemporaryFile() as out:
            if job.format == ExportJob.Format.XLSX:
                out.write(exporting.xlsx(organization, job.kind, on_page=moved))
            else:
                lines = itertools.chain(
                    [exporting.header(organization, job.kind)],
                    exporting.rows(organization, job.kind, on_page=moved),
                )
                delimiter = exporting.delimiter_for(organization)
                for text in csv_lines(lines, delimiter=delimiter):
                    out.write(text.encode())
            out.seek(0)
            with transaction.atomic():
                job.file.save(job.filename, File(out), save=False)
                ExportJob.objects.filter(pk=job.pk).update(
                    file=job.file.name,
                    status=ExportJob.Status.DONE,
                    finished_at=timezone.now(),
                    rows_done=F("total_rows"),
                )
    except Exception:
        logger.exception("export %s failed", job.uuid)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, finished_at=timezone.now()
        )
    job.refresh_from_db()
    return job


def restart_stalled(now: dt.datetime | None = None) -> list[int]:
    """The ids of jobs that lost their worker (or never reached one), to start again."""
    return list(
        ExportJob.objects.filter(stalled(now or timezone.now())).values_list("pk", flat=True)
    )


def purge(now: dt.datetime | None = None) -> int:
    """Forgets exports older than a day, their files with them; returns how many."""
    cutoff = (now or timezone.now()) - KEPT
    old = list(ExportJob.objects.filter(created_at__lt=cutoff).values_list("pk", "file"))
    with transaction.atomic():
        forget(key for _pk, key in old if key)
        ExportJob.objects.filter(pk__in=[pk for pk, _key in old]).delete()
    return len(old)
