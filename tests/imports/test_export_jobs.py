"""Large exports run as a task with a progress page and a download; small ones stay
immediate. The clock is set: the file is kept a day, then swept with its storage key."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
import time_machine
from django.core.files.storage import default_storage
from django_scopes import scopes_disabled

from imports import export_jobs
from imports.export import delimiter_for
from imports.models import ExportJob
from imports.tasks import purge_exports, run_export
from organizations.models import AuditEntry
from profiles.models import PendingDeletion
from tests import factories

pytestmark = pytest.mark.django_db

START = dt.datetime(2027, 12, 31, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def clients(org, monkeypatch):
    # Past three profiles an export goes to the background, in pages of two.
    monkeypatch.setattr(export_jobs, "INLINE_ROWS", 3)
    monkeypatch.setattr("imports.export.CHUNK", 2)
    for n in range(5):
        factories.contact(org, first_name=f"Ann{n}", last_name="Lee", email=f"a{n}@example.com")


def _job(org) -> ExportJob:
    with scopes_disabled():
        return ExportJob.objects.get(organization=org)


def test_a_small_export_is_still_written_in_the_response(member_client, org):
    factories.contact(org, last_name="Solo")
    response = member_client.get(f"/o/{org.slug}/contacts/export.csv")
    assert "Solo" in b"".join(response.streaming_content).decode("utf-8-sig")
    with scopes_disabled():
        assert not ExportJob.objects.exists()
        assert AuditEntry.objects.filter(action="imports.profiles.exported").count() == 1


def test_a_large_export_is_offered_as_a_job_and_does_not_write_in_the_request(
    member_client, org, clients
):
    page = member_client.get(f"/o/{org.slug}/contacts/export.csv")
    assert page.status_code == 200
    assert "5 profiles are to be written" in page.text
    with scopes_disabled():
        assert not ExportJob.objects.exists()


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_a_posted_export_runs_as_a_task_then_offers_the_download(
    member_client, org, clients, format, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = member_client.post(f"/o/{org.slug}/contacts/export.{format}")
    job = _job(org)
    assert response.status_code == 302
    assert response["Location"] == f"/o/{org.slug}/exports/{job.uuid}/"
    assert (job.status, job.total_rows, job.rows_done) == ("queued", 5, 0)
    # Before the task: the page shows a bar that polls itself.
    page = member_client.get(response["Location"])
    assert 'id="export-progress"' in page.text and 'hx-trigger="every 2s"' in page.text
    assert '<progress max="5" value="0"' in page.text
    assert member_client.get(f"/o/{org.slug}/exports/{job.uuid}/download/").status_code == 404
    with time_machine.travel(START, tick=False):  # the worker's clock
        for callback in queued:
            callback()
    job = _job(org)
    assert (job.status, job.rows_done, job.finished_at) == ("done", 5, START)
    progress = member_client.get(f"/o/{org.slug}/exports/{job.uuid}/progress/")
    assert "hx-trigger" not in progress.text and "The file is ready" in progress.text
    download = member_client.get(f"/o/{org.slug}/exports/{job.uuid}/download/")
    assert download["Content-Disposition"] == f'attachment; filename="contacts.{format}"'
    content = b"".join(download.streaming_content)
    if format == "csv":
        text = io.StringIO(content.decode("utf-8-sig"))
        rows = list(csv.reader(text, delimiter=delimiter_for(org)))
    else:
        rows = list(openpyxl.load_workbook(io.BytesIO(content)).active.values)
    assert len(rows) == 1 + 5
    assert sorted(r[1] for r in rows[1:]) == [f"Ann{n}" for n in range(5)]


def test_the_task_moves_the_progress_a_page_at_a_time(org, clients, member, monkeypatch):
    from imports import actions
    from imports import export as exporting
    from organizations.actors import Actor

    with scopes_disabled():
        job = actions.export_profiles(
            org, actor=Actor.member(member), kind="contact", format="csv", background=True
        )
    # What the bar reads while the task runs, after each page of two.
    seen = []
    original = exporting.rows

    def rows(*args, on_page, **kwargs):
        def moved(lines):
            on_page(lines)
            with scopes_disabled():
                seen.append(ExportJob.objects.values_list("rows_done", flat=True).get(pk=job.pk))

        return original(*args, on_page=moved, **kwargs)

    monkeypatch.setattr(exporting, "rows", rows)
    assert run_export(job.pk) == "done"
    assert seen == [2, 4, 5]
    assert run_export(job.pk) == "done"  # delivered twice: written once
    assert seen == [2, 4, 5]


def test_a_job_is_another_organisations_404(member_client, outsider_client, org, clients):
    member_client.post(f"/o/{org.slug}/contacts/export.csv")
    job = _job(org)
    for path in ("", "progress/", "download/"):
        assert outsider_client.get(f"/o/{org.slug}/exports/{job.uuid}/{path}").status_code == 404


def test_exports_are_kept_a_day_then_swept_with_their_files(
    member_client, org, clients, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(f"/o/{org.slug}/contacts/export.csv")
    with scopes_disabled():
        ExportJob.objects.update(created_at=START)
    key = _job(org).file.name
    assert default_storage.exists(key)
    with time_machine.travel(START + dt.timedelta(hours=23), tick=False):
        assert purge_exports() == 0
    with (
        time_machine.travel(START + dt.timedelta(days=1, minutes=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert purge_exports() == 1
    with scopes_disabled():
        assert not ExportJob.objects.exists()
    assert not default_storage.exists(key)
    assert not PendingDeletion.objects.filter(key=key).exists()


def test_a_failed_export_says_so(
    member_client, org, clients, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("imports.export.header", broken)
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(f"/o/{org.slug}/contacts/export.csv")
    job = _job(org)
    assert job.status == "failed"
    page = member_client.get(f"/o/{org.slug}/exports/{job.uuid}/")
    assert "The export failed" in page.text and "hx-trigger" not in page.text


def test_a_job_whose_worker_died_is_started_again_by_the_sweep(
    member_client, org, clients, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        member_client.post(f"/o/{org.slug}/contacts/export.csv")
    with scopes_disabled():
        ExportJob.objects.update(status="running", rows_done=2, touched_at=START, created_at=START)
    job = _job(org)
    # Still moving a minute ago: another worker has it.
    with time_machine.travel(START + dt.timedelta(minutes=1), tick=False):
        assert run_export(job.pk) == "running"
        assert purge_exports() == 0
    assert _job(org).status == "running"
    with time_machine.travel(START + dt.timedelta(minutes=16), tick=False):
        assert purge_exports() == 0
    job = _job(org)
    assert (job.status, job.rows_done) == ("done", 5)
