"""The import's task: takes the job's id, loads it, enters its organisation's scope."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone, translation
from django_scopes import scope, scopes_disabled

from imports import export_jobs, jobs
from imports.models import ExportJob, ImportJob
from organizations.display import style_of


@shared_task(acks_late=True)  # type: ignore[untyped-decorator]
def run_import(job_id: int) -> str:
    with scopes_disabled():
        job = ImportJob.objects.select_related("organization", "created_by").get(pk=job_id)
    organization = job.organization
    with (
        scope(organization=organization),
        translation.override(organization.default_language),
        style_of(organization),
    ):
        return jobs.run(job).status


@shared_task(acks_late=True)  # type: ignore[untyped-decorator]
def run_export(job_id: int) -> str:
    with scopes_disabled():
        job = ExportJob.objects.select_related("organization").filter(pk=job_id).first()
    if job is None:  # purged before a worker took it
        return "gone"
    organization = job.organization
    with (
        scope(organization=organization),
        translation.override(job.language),
        timezone.override(organization.tzinfo),
        style_of(organization),
    ):
        return export_jobs.run(job).status


@shared_task  # type: ignore[untyped-decorator]
def purge_exports() -> int:
    """Across organisations, the exports' sweep: a job whose worker died (or that never
    reached one) starts again; exports a day old go, with their files."""
    with scopes_disabled():
        purged = export_jobs.purge()
        for job_id in export_jobs.restart_stalled():
            run_export.delay(job_id)
    return purged
