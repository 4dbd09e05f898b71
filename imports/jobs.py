"""An import's way through: upload, mapping, dry run, run (a task, in batches, with its
progress kept on the job so the page survives a reload), cancel, and the e-mail at the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from imports import actions, mapping, parsing, reading
from imports.models import ImportJob, RowError, SavedMapping
from organizations.actors import Actor
from organizations.models import Organization
from profiles.models import DataField, FieldType, Kind

BATCH = 1000


def fields_of(organization: Organization, kind: str) -> list[DataField]:
    return list(DataField.objects.filter(organization=organization, applies_to=kind).active())


def open_upload(
    *, organization: Organization, user: Any, kind: str, upload: UploadedFile[Any]
) -> ImportJob:
    """A new import of the file, its columns matched by name (or by a saved mapping of the
    same headings); refused with a message on `file` when the file cannot be read."""
    if (upload.size or 0) > reading.MAX_FILE_BYTES:
        raise ValidationError({"file": reading.too_large()})
    data = upload.read()
    name = (upload.name or "import").rsplit("/", 1)[-1][:200]
    try:
        table = reading.read(data, name)
    except reading.FileRefused as error:
        raise ValidationError({"file": str(error)}) from None
    fields = fields_of(organization, kind)
    targets = mapping.targets(kind, fields)
    saved = next(
        (
            m.columns
            for m in SavedMapping.objects.filter(organization=organization, kind=kind)
            if set(m.columns) >= {h for h in table.headers if h}
        ),
        None,
    )
    guessed = mapping.guess(table.headers, targets, saved)
    job = ImportJob(
        organization=organization,
        kind=kind,
        created_by=user,
        filename=name,
        mapping={str(k): v for k, v in guessed.items()},
        options={"headers": table.headers, "notes": table.notes},
    )
    job.file.save(name, ContentFile(data), save=False)
    job.save()
    return job


def table_of(job: ImportJob) -> reading.Table:
    with job.file.open("rb") as stored:
        data = stored.read()
    return reading.read(data, job.filename)


def number_columns(job: ImportJob, columns: dict[int, str] | None = None) -> dict[int, str | None]:
    """Column → its decimal mark, for the columns mapped (by `columns`, else the job's
    mapping) to number fields; None where the file does not settle it (to ask)."""
    fields = {f"field:{f.uuid}": f for f in fields_of(job.organization, job.kind)}
    if columns is None:
        columns = {int(n): key for n, key in job.mapping.items()}
    wanted = [
        n for n, key in columns.items() if key in fields and fields[key].type == FieldType.NUMBER
    ]
    if not wanted:
        return {}
    texts: dict[int, list[str]] = {n: [] for n in wanted}
    for _line, cells in table_of(job).rows:
        for n in wanted:
            if n < len(cells) and isinstance(cells[n].value, str) and cells[n].value.strip():
                texts[n].append(cells[n].value)
    return {n: parsing.detect_decimal(values) for n, values in texts.items()}


def set_mapping(
    job: ImportJob,
    *,
    columns: dict[int, str],
    decimals: dict[int, str],
    save_as: str = "",
    create_companies: bool = False,
) -> ImportJob:
    job.mapping = {str(n): key for n, key in columns.items() if key}
    job.options = {
        **job.options,
        "decimals": {str(n): m for n, m in decimals.items()},
        "create_companies": create_companies,
    }
    job.status = ImportJob.Status.MAPPING
    job.save(update_fields=["mapping", "options", "status"])
    if save_as:
        headers = job.options.get("headers", [])
        SavedMapping.objects.update_or_create(
            organization=job.organization,
            kind=job.kind,
            name=save_as[:100],
            defaults={"columns": {headers[n]: key for n, key in columns.items() if key}},
        )
    return job


def _parser(job: ImportJob, table: reading.Table) -> parsing.Parser:
    decimals = {int(n): m for n, m in job.options.get("decimals", {}).items()}
    return parsing.Parser(
        kind=job.kind,
        headers=table.headers,
        mapping={int(n): key for n, key in job.mapping.items()},
        fields=fields_of(job.organization, job.kind),
        date_style=job.organization.date_style,
        decimals=decimals,
    )


def _file_errors(job: ImportJob, table: reading.Table) -> list[tuple[int, str, str]]:
    named = mapping.documents_named(table.headers, fields_of(job.organization, job.kind), job.kind)
    from django.utils.translation import gettext as _

    return [
        (0, heading, _("Documents are not imported from a file: upload them on the profile."))
        for heading in named
    ]


def _batches(job: ImportJob) -> Iterator[tuple[list[parsing.ParsedRow], dict[int, str]]]:
    # Keys first, the whole file: a duplicated reference or e-mail refuses every line that
    # holds it, wherever they are.
    columns = {int(n): key for n, key in job.mapping.items()}
    reference = _column(columns, mapping.REFERENCE)
    other = _column(columns, "email" if job.kind == Kind.CONTACT else "registration_number")

    def keys() -> Iterator[tuple[int, str, str]]:
        for line, cells in table_of(job).rows:
            yield line, _cell(cells, reference), _cell(cells, other)

    duplicates = actions.duplicate_errors(keys)
    # One reading of the file alive at a time: the keys' is done with before this one starts.
    table = table_of(job)
    parser = _parser(job, table)
    batch: list[parsing.ParsedRow] = []
    for line, cells in table.rows:
        batch.append(parser.parse(line, cells))
        if len(batch) == BATCH:
            yield batch, duplicates
            batch = []
    if batch:
        yield batch, duplicates


def _column(columns: dict[int, str], key: str) -> int | None:
    return next((n for n, k in columns.items() if k == key), None)


def _cell(cells: list[reading.Cell], number: int | None) -> str:
    if number is None or number >= len(cells) or cells[number].value is None:
        return ""
    return str(cells[number].value).strip()


def count_rows(job: ImportJob) -> int:
    return sum(1 for _row in table_of(job).rows)


def tries_inline(job: ImportJob) -> bool:
    """A small file is tried while the person waits; a larger one as a task, its page
    following the rows checked, so that no request holds a worker for minutes."""
    return bool(job.file.size <= settings.IMPORT_TRY_INLINE_BYTES)


def queue_try(job: ImportJob) -> None:
    """Hands the dry run to a task, once: the job is marked as being tried in this
    transaction, and the task starts when it commits."""
    from imports.tasks import try_import_task

    updated = ImportJob.objects.filter(
        pk=job.pk, status__in=(ImportJob.Status.MAPPING, ImportJob.Status.PREVIEWED)
    ).update(status=ImportJob.Status.TRYING, rows_done=0, total_rows=0)
    if updated:
        job.status = ImportJob.Status.TRYING
        transaction.on_commit(lambda: try_import_task.delay(job.pk))


def try_import(job: ImportJob, *, actor: Actor, progress: bool = False) -> actions.RowsResult:
    """The dry run: every row read, matched and checked, nothing written; its errors kept.
    With `progress`, the rows checked move on the job after each batch, for its page."""
    total = actions.RowsResult()
    try:
        table = table_of(job)
    except reading.FileRefused as error:
        total.errors.append((0, "", str(error)))
    else:
        total.errors += _file_errors(job, table)
        del table  # one reading of the file alive at a time
        if progress and not total.errors:
            ImportJob.objects.filter(pk=job.pk).update(total_rows=count_rows(job))
        done = 0
        if not total.errors:
            for batch, duplicates in _batches(job):
                if progress:
                    done += len(batch)
                    ImportJob.objects.filter(pk=job.pk).update(rows_done=done)
                total.add(
                    actions.import_rows(
                        organization=job.organization,
                        actor=actor,
                        kind=job.kind,
                        rows=batch,
                        source=actions.ImportSource(job.uuid, job.filename),
                        dry_run=True,
                        duplicates=duplicates,
                        create_companies=bool(job.options.get("create_companies")),
                    )
                )
    with transaction.atomic():
        _keep_errors(job, total.errors)
        job.preview = {
            "created": total.created,
            "companies": len(total.new_companies),
            "changed": total.changed,
            "unchanged": total.unchanged,
            "refused": len({line for line, _c, _m in total.errors if line}),
            "file_errors": sum(1 for line, _c, _m in total.errors if not line),
            "changes": [
                {"line": c.line, "profile": c.profile, "created": c.created, "changes": c.changes}
                for c in total.changes
            ],
        }
        job.total_rows = total.created + total.changed + total.unchanged + job.preview["refused"]
        job.rows_done = 0
        job.status = ImportJob.Status.PREVIEWED
        job.save(update_fields=["preview", "total_rows", "rows_done", "status"])
    return total


def _keep_errors(job: ImportJob, errors: list[tuple[int, str, str]]) -> None:
    RowError.objects.filter(job=job).delete()
    RowError.objects.bulk_create(
        [
            RowError(
                organization_id=job.organization_id,
                job=job,
                line=line or None,
                column=column[:200],
                message=message[:500],
            )
            for line, column, message in errors
        ],
        batch_size=2000,
    )


def queue_run(job: ImportJob) -> None:
    from imports.tasks import run_import

    updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEWED).update(
        status=ImportJob.Status.QUEUED, rows_done=0, cancel_requested=False
    )
    if updated:
        transaction.on_commit(lambda: run_import.delay(job.pk))


def run(job: ImportJob) -> ImportJob:
    """Imports the rows a batch at a time, each batch its own transaction; the counts move on
    the job after each, and a cancel stops it between two batches (what is written stays,
    whole rows only). Ends with the audit entry and the e-mail."""
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING
    )
    if not claimed:
        return job
    actor = Actor.member(job.created_by) if job.created_by else Actor.system("imports.run")
    total = actions.RowsResult()
    done = 0
    status = ImportJob.Status.DONE
    try:
        total.errors += _file_errors(job, table_of(job))
        for batch, duplicates in [] if total.errors else _batches(job):
            if ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                status = ImportJob.Status.CANCELLED
                break
            result = actions.import_rows(
                organization=job.organization,
                actor=actor,
                kind=job.kind,
                rows=batch,
                source=actions.ImportSource(job.uuid, job.filename),
                duplicates=duplicates,
                create_companies=bool(job.options.get("create_companies")),
            )
            total.add(result, keep_changes=0)
            done += len(batch)
            ImportJob.objects.filter(pk=job.pk).update(
                rows_done=done,
                created_count=total.created,
                changed_count=total.changed,
                unchanged_count=total.unchanged,
                error_count=len({line for line, _c, _m in total.errors}),
            )
    except reading.FileRefused as error:
        total.errors.append((0, "", str(error)))
        status = ImportJob.Status.FAILED
    from imports import emails

    with transaction.atomic():
        job.refresh_from_db()
        _keep_errors(job, total.errors)
        job.status = status
        job.finished_at = timezone.now()
        job.save(update_fields=["status", "finished_at"])
        actions.record_import(
            organization=job.organization,
            actor=actor,
            name=job.filename,
            result=total,
            kind=job.kind,
            cancelled=status == ImportJob.Status.CANCELLED,
            **({"companies_created": len(total.new_companies)} if total.new_companies else {}),
        )
        emails.send_import_done(job)
    return job


def cancel(job: ImportJob) -> None:
    ImportJob.objects.filter(
        pk=job.pk, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]
    ).update(cancel_requested=True)
    # Not started yet: nothing to stop, it simply never runs.
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.CANCELLED, finished_at=timezone.now()
    )


def is_kind(kind: str) -> bool:
    return kind in Kind.values
