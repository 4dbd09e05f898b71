"""The import's task: takes the job's id, loads it, enters its organisation's scope."""

from __future__ import annotations

from celery import shared_task
from django.utils import translation
from django_scopes import scope, scopes_disabled

from imports import jobs
from imports.models import ImportJob
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
