from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django_scopes import scope

from imports import actions, export_jobs, jobs, mapping, reading
from imports import export as exporting
from imports.forms import MappingForm, UploadForm
from imports.models import ExportJob, ImportJob
from organizations.actors import Actor
from organizations.csvexport import csv_lines
from organizations.display import style_of
from organizations.http import OrganizationRequest
from organizations.lookups import get_for_org
from profiles.models import Kind

KIND_OF_URL = {"contacts": Kind.CONTACT, "companies": Kind.COMPANY}
SHOWN_ERRORS = 200


def _streamed(request: OrganizationRequest, lines: Iterable[list[Any]]) -> Iterator[list[Any]]:
    """Rows read after the view and its middleware are done: the tenant's scope, the
    reader's language, the zone and the date style set again around them."""
    organization = request.organization
    language, zone = translation.get_language(), timezone.get_current_timezone()
    with (
        scope(organization=organization),
        translation.override(language),
        timezone.override(zone),
        style_of(organization),
    ):
        yield from lines


def _job(request: OrganizationRequest, job_uuid: Any) -> ImportJob:
    return get_for_org(request, ImportJob.objects.select_related("created_by"), uuid=job_uuid)


@require_http_methods(["GET", "POST"])
def import_list(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = jobs.open_upload(
                organization=request.organization,
                user=request.user,
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["file"],
            )
        except ValidationError as error:
            for name, errors in error.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            return redirect("imports:mapping", org_slug=org_slug, job_uuid=job.uuid)
    imports = ImportJob.objects.filter(organization=request.organization).select_related(
        "created_by"
    )[:20]
    return render(request, "imports/list.html", {"form": form, "imports": imports})


@require_http_methods(["GET", "POST"])
def import_mapping(request: OrganizationRequest, org_slug: str, job_uuid: Any) -> HttpResponse:
    job = _job(request, job_uuid)
    if job.status not in (ImportJob.Status.MAPPING, ImportJob.Status.PREVIEWED):
        return redirect("imports:detail", org_slug=org_slug, job_uuid=job.uuid)
    headers: list[str] = job.options.get("headers", [])
    targets = mapping.targets(job.kind, jobs.fields_of(request.organization, job.kind))
    columns = {int(n): key for n, key in job.mapping.items()}
    matching = (
        {str(f.uuid): f for f in jobs.match_fields(request.organization)}
        if job.kind == Kind.COMPANY
        else {}
    )
    match_choices = [(uuid, f.local_label) for uuid, f in matching.items()]
    if request.method == "POST":
        # The columns as posted decide which number columns need their decimal mark asked.
        posted = MappingForm(
            request.POST,
            headers=headers,
            targets=targets,
            initial_mapping={},
            ambiguous=[],
            kind=job.kind,
            match_choices=match_choices,
        )
        if posted.is_valid():
            columns = posted.columns()
    marks = jobs.number_columns(job, columns)
    form = MappingForm(
        request.POST or None,
        headers=headers,
        targets=targets,
        initial_mapping=columns,
        ambiguous=[n for n, mark in marks.items() if mark is None],
        kind=job.kind,
        match_choices=match_choices,
        initial={
            "create_companies": job.options.get("create_companies", False),
            "match_field": job.options.get("match_field", ""),
        },
    )
    if request.method == "POST" and form.is_valid():
        detected = {n: mark for n, mark in marks.items() if mark}
        jobs.set_mapping(
            job,
            columns=form.columns(),
            decimals={**detected, **form.decimals()},
            save_as=form.cleaned_data["save_as"],
            create_companies=bool(form.cleaned_data.get("create_companies")),
            match_field=matching.get(form.cleaned_data.get("match_field") or ""),
        )
        if jobs.tries_inline(job):
            jobs.try_import(job, actor=Actor.member(request.user))
        else:
            jobs.queue_try(job)
        return redirect("imports:detail", org_slug=org_slug, job_uuid=job.uuid)
    documents = mapping.documents_named(
        headers, jobs.fields_of(request.organization, job.kind), job.kind
    )
    return render(
        request,
        "imports/mapping.html",
        {"job": job, "form": form, "notes": job.options.get("notes", []), "documents": documents},
    )


def import_detail(request: OrganizationRequest, org_slug: str, job_uuid: Any) -> HttpResponse:
    job = _job(request, job_uuid)
    return render(
        request,
        "imports/detail.html",
        {
            "job": job,
            "errors": job.errors.all()[:SHOWN_ERRORS],
            "error_total": job.errors.count(),
            "shown_errors": SHOWN_ERRORS,
        },
    )


def import_progress(request: OrganizationRequest, org_slug: str, job_uuid: Any) -> HttpResponse:
    job = _job(request, job_uuid)
    response = render(request, "imports/progress.html", {"job": job})
    if not job.is_working and request.htmx:  # type: ignore[attr-defined]
        # The dry run or the run ended while the page watched: the whole page, with its
        # results.
        response["HX-Refresh"] = "true"
    return response


@require_POST
def import_run(request: OrganizationRequest, org_slug: str, job_uuid: Any) -> HttpResponse:
    job = _job(request, job_uuid)
    if job.status != ImportJob.Status.PREVIEWED:
        messages.error(request, _("This import has already run or is running."))
    else:
        jobs.queue_run(job)
    return redirect("imports:detail", org_slug=org_slug, job_uuid=job.uuid)


@require_POST
def import_cancel(request: OrganizationRequest, org_slug: str, job_uuid: Any) -> HttpResponse:
    job = _job(request, job_uuid)
    jobs.cancel(job)
    messages.info(request, _("The import stops after the rows in hand; what is written stays."))
    return redirect("imports:detail", org_slug=org_slug, job_uuid=job.uuid)


def import_errors(
    request: OrganizationRequest, org_slug: str, job_uuid: Any
) -> StreamingHttpResponse:
    """The refused lines as they were, with their errors in a last column: fixed, the file
    uploads again as it is."""
    job = _job(request, job_uuid)
    by_line: dict[int, list[str]] = {}
    file_errors: list[str] = []
    for error in job.errors.all():
        text = f"{error.column}: {error.message}" if error.column else error.message
        if error.line:
            by_line.setdefault(error.line, []).append(text)
        else:
            file_errors.append(text)
    try:
        table = jobs.table_of(job)
    except reading.FileRefused:
        # A file that cannot be read has no lines to give back: its errors alone.
        table = reading.Table(headers=[], rows=iter(()))
    header = [*table.headers, _("Errors")]
    lines = (
        [*[exporting_text(c.value) for c in cells], " | ".join(by_line[line])]
        for line, cells in table.rows
        if line in by_line
    )
    notes = ([""] * len(table.headers) + [text] for text in file_errors)
    delimiter = table.delimiter or exporting.delimiter_for(request.organization)
    response = StreamingHttpResponse(
        csv_lines(_streamed(request, itertools.chain([header], lines, notes)), delimiter=delimiter),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="errors.csv"'
    return response


def exporting_text(value: Any) -> str:
    return "" if value is None else str(value)


@require_http_methods(["GET", "POST"])
def export(
    request: OrganizationRequest, org_slug: str, url_kind: str, format: str
) -> HttpResponse | StreamingHttpResponse:
    """A small export is written in the response; a large one (or any one posted) is a job
    that a task writes while its page shows the progress."""
    kind = KIND_OF_URL.get(url_kind)
    if kind is None or format not in ("csv", "xlsx"):
        raise Http404
    actor = Actor.member(request.user)
    if request.method == "POST":
        job = actions.export_profiles(
            request.organization, actor=actor, kind=kind, format=format, background=True
        )
        assert job is not None
        return redirect("imports:export_job", org_slug=org_slug, job_uuid=job.uuid)
    if export_jobs.in_background(request.organization, kind):
        return render(
            request,
            "imports/export_start.html",
            {
                "url_kind": url_kind,
                "format": format,
                "kind": kind,
                "count": exporting.profiles(request.organization, kind).count(),
            },
        )
    actions.export_profiles(
        request.organization, actor=actor, kind=kind, format=format, background=False
    )
    name = "contacts" if kind == Kind.CONTACT else "companies"
    response: HttpResponse | StreamingHttpResponse
    if format == "xlsx":
        response = HttpResponse(
            exporting.xlsx(request.organization, kind),
            content_type=XLSX_TYPE,
        )
    else:
        lines = _streamed(
            request,
            itertools.chain(
                [exporting.header(request.organization, kind)],
                exporting.rows(request.organization, kind),
            ),
        )
        response = StreamingHttpResponse(
            csv_lines(lines, delimiter=exporting.delimiter_for(request.organization)),
            content_type="text/csv; charset=utf-8",
        )
    response["Content-Disposition"] = f'attachment; filename="{name}.{format}"'
    return response


XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _export_job(request: OrganizationRequest, job_uuid: Any) -> ExportJob:
    return get_for_org(request, ExportJob.objects.all(), uuid=job_uuid)


def export_job(request: OrganizationRequest, org_slug: str, job_uuid: Any) -> HttpResponse:
    """The export's page: its progress while the task writes, then the download."""
    return render(request, "imports/export_job.html", {"job": _export_job(request, job_uuid)})


def export_progress(request: OrganizationRequest, org_slug: str, job_uuid: Any) -> HttpResponse:
    """The progress card alone, which polls itself until the file is ready."""
    return render(request, "imports/export_progress.html", {"job": _export_job(request, job_uuid)})


def export_download(request: OrganizationRequest, org_slug: str, job_uuid: Any) -> FileResponse:
    job = _export_job(request, job_uuid)
    if job.status != ExportJob.Status.DONE or not job.file:
        raise Http404
    content_type = XLSX_TYPE if job.format == ExportJob.Format.XLSX else "text/csv; charset=utf-8"
    return FileResponse(
        job.file.open("rb"),
        as_attachment=True,
        filename=job.filename,
        content_type=content_type,
    )
