"""The import's task: takes the job's id, loads it, enters its organisation's scope."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone, translation
from django_scopes import scope, scopes_disabled

from imports import export_jobs, jobs
from imports.models import ExportJob, ImportJob
from organizations.actors import Actor
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
def try_import_task(job_id: int) -> str:
    """The dry run of a large file. Only a job still marked as being tried is tried: a task
    delivered twice finds it tried already and does nothing."""
    with scopes_disabled():
        job = ImportJob.objects.select_related("organization", "created_by").get(pk=job_id)
    if job.status != ImportJob.Status.TRYING:
        return job.status
    organization = job.organization
    actor = Actor.member(job.created_by) if job.created_by else Actor.system("imports.try")
    with (
        scope(organization=organization),
        translation.override(organization.default_language),
        style_of(organization),
    ):
        jobs.try_import(job, actor=actor, progress=True)
    return ImportJob.Status.PREVIEWED


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
