"""An import's way through: upload, mapping, dry run, run (a task, in batches, with its
progress kept on the job so the page survives a reload), cancel, and the e-mail at the end."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy

from imports import actions, digests, mapping, parsing, reading
from imports.models import ImportedRow, ImportJob, RowError, SavedMapping
from organizations.actors import Actor
from organizations.models import Organization
from profiles.models import DataField, FieldType, FieldValue, Kind

BATCH = 1000

logger = logging.getLogger(__name__)

STOPPED = gettext_lazy(
    "The work on this file stopped on an unexpected error. The rows counted as imported are"
    " on file; upload the file again to check and import the rest."
)


def fields_of(organization: Organization, kind: str) -> list[DataField]:
    return list(DataField.objects.filter(organization=organization, applies_to=kind).active())


def open_upload(
    *, organization: Organization, user: Any, kind: str, upload: UploadedFile[Any]
) -> ImportJob:
    """A new import of the file, its columns matched by name (or by a saved mapping of the
    same headings); refused with a message on `file` when the file cannot be read."""
    if (upload.size or 0) > reading.MAX_FILE_BYTES:
        raise ValidationError({"file": reading.too_large()})
    name = (upload.name or "import").rsplit("/", 1)[-1][:200]
    # Read from the upload as it lies (in memory or a temporary file), never copied whole.
    try:
        table = reading.read(_binary(upload), name)
    except reading.FileRefused as error:
        raise ValidationError({"file": str(error)}) from None
    fields = fields_of(organization, kind)
    targets = mapping.targets(kind, fields)
    saved = next(
        (
            m
            for m in SavedMapping.objects.filter(organization=organization, kind=kind)
            if set(m.columns) >= {h for h in table.headers if h}
        ),
        None,
    )
    guessed = mapping.guess(table.headers, targets, saved.columns if saved else None)
    options: dict[str, Any] = {"headers": table.headers, "notes": table.notes}
    if table.encoding:
        options["encoding"] = table.encoding
    if saved and kind == Kind.COMPANY and saved.options.get("match_field"):
        chosen = match_fields(organization).filter(uuid=saved.options["match_field"]).first()
        if chosen is not None:
            options["match_field"] = str(chosen.uuid)
    job = ImportJob(
        organization=organization,
        kind=kind,
        created_by=user,
        filename=name,
        mapping={str(k): v for k, v in guessed.items()},
        options=options,
    )
    job.file.save(name, upload, save=False)
    job.save()
    return job


def _binary(file: Any) -> Any:
    """The binary file under Django's `File` (an upload's, a storage's)."""
    inner = getattr(file, "file", None)
    return inner if inner is not None and hasattr(inner, "seek") else file


def match_fields(organization: Organization) -> QuerySet[DataField]:
    """The fields that may match companies without a reference: their active text fields."""
    fields: QuerySet[DataField] = DataField.objects.filter(
        organization=organization, applies_to=Kind.COMPANY, type=FieldType.TEXT
    ).active()
    return fields


def match_field(job: ImportJob) -> DataField | None:
    """The field the job matches companies by; None for the registration number. A field
    chosen then archived or retyped is no longer one: `_file_errors` says so."""
    chosen = job.options.get("match_field") if job.kind == Kind.COMPANY else None
    if not chosen:
        return None
    return match_fields(job.organization).filter(uuid=chosen).first()


def table_of(job: ImportJob, *, check: bool = False) -> reading.Table:
    """The stored file's headings and rows, read a line at a time from storage; the file
    closes when its rows are read to the end (or `Table.close`). Checked whole first only
    with `check`: the upload checked it, and the run's first pass (the keys) reads it all
    before a row is written."""
    stored = job.file.storage.open(str(job.file.name), "rb")
    try:
        table = reading.read(
            _binary(stored), job.filename, encoding=job.options.get("encoding"), check=check
        )
    except BaseException:
        stored.close()
        raise
    rows = table.rows

    def closing() -> Iterator[tuple[int, list[reading.Cell]]]:
        try:
            yield from rows
        finally:
            stored.close()

    table.rows = closing()
    table.close = stored.close
    return table


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
    # The marks each column shows, not its numbers: the file is not held.
    marks: dict[int, set[str | None]] = {n: set() for n in wanted}
    for _line, cells in table_of(job).rows:
        for n in wanted:
            if n < len(cells) and isinstance(cells[n].value, str) and cells[n].value.strip():
                marks[n].add(parsing.decimal_mark(cells[n].value))
    return {n: parsing.decide_decimal(shown) for n, shown in marks.items()}


def set_mapping(
    job: ImportJob,
    *,
    columns: dict[int, str],
    decimals: dict[int, str],
    save_as: str = "",
    create_companies: bool = False,
    match_field: DataField | None = None,
) -> ImportJob:
    """`match_field`: for companies, the text field that matches a row without a
    reference (the caller offers only `match_fields`); None, the registration number."""
    job.mapping = {str(n): key for n, key in columns.items() if key}
    job.options = {
        **job.options,
        "decimals": {str(n): m for n, m in decimals.items()},
        "create_companies": create_companies,
        "match_field": str(match_field.uuid) if match_field else "",
    }
    job.status = ImportJob.Status.MAPPING
    job.save(update_fields=["mapping", "options", "status"])
    if save_as:
        headers = job.options.get("headers", [])
        SavedMapping.objects.update_or_create(
            organization=job.organization,
            kind=job.kind,
            name=save_as[:100],
            defaults={
                "columns": {headers[n]: key for n, key in columns.items() if key},
                "options": {"match_field": job.options["match_field"]}
                if job.kind == Kind.COMPANY
                else {},
            },
        )
    return job


def _parser(job: ImportJob, table: reading.Table) -> parsing.Parser:
    decimals = {int(n): m for n, m in job.options.get("decimals", {}).items()}
    columns = {int(n): key for n, key in job.mapping.items()}
    fields = fields_of(job.organization, job.kind)
    return parsing.Parser(
        kind=job.kind,
        headers=table.headers,
        mapping=columns,
        fields=fields,
        date_style=job.organization.date_style,
        decimals=decimals,
        salt=digests.salt(
            kind=job.kind,
            mapping=columns,
            decimals=decimals,
            date_style=job.organization.date_style,
            fields=fields,
            options=job.options,
        ),
    )


def _file_errors(job: ImportJob) -> list[tuple[int, str, str]]:
    from django.utils.translation import gettext as _

    table = table_of(job)
    table.close()
    named = mapping.documents_named(table.headers, fields_of(job.organization, job.kind), job.kind)
    errors = [
        (0, heading, _("Documents are not imported from a file: upload them on the profile."))
        for heading in named
    ]
    if job.kind == Kind.COMPANY and job.options.get("match_field") and not match_field(job):
        errors.append(
            (
                0,
                "",
                _(
                    "The field chosen to match companies is no longer a text field of "
                    "companies: choose another on the mapping page."
                ),
            )
        )
    return errors


def _batches(job: ImportJob) -> Iterator[tuple[list[parsing.ParsedRow], dict[int, str], int]]:
    """The file's rows parsed, a batch at a time, with the file-wide refusals and how many
    rows of the batch were found unchanged without being parsed (imports.digests)."""
    # Keys first, the whole file: a duplicated reference or e-mail refuses every line that
    # holds it, wherever they are. This pass reads every line before a row is written: a
    # file that cannot be read is refused by it, whole.
    columns = {int(n): key for n, key in job.mapping.items()}
    reference = _column(columns, mapping.REFERENCE)
    chosen = match_field(job)
    other = _column(
        columns,
        "email"
        if job.kind == Kind.CONTACT
        else f"field:{chosen.uuid}"
        if chosen
        else "registration_number",
    )

    def keys() -> Iterator[tuple[int, str, str]]:
        for line, cells in table_of(job).rows:
            yield line, _cell(cells, reference), _cell(cells, other)

    duplicates = actions.duplicate_errors(keys)
    # One reading of the file alive at a time: the keys' is done with before this one starts.
    table = table_of(job)
    parser = _parser(job, table)
    batch: list[tuple[int, list[reading.Cell]]] = []
    for line, cells in table.rows:
        batch.append((line, cells))
        if len(batch) == BATCH:
            yield _parsed(job, parser, batch, duplicates, reference)
            batch = []
    if batch:
        yield _parsed(job, parser, batch, duplicates, reference)


def _parsed(
    job: ImportJob,
    parser: parsing.Parser,
    batch: list[tuple[int, list[reading.Cell]]],
    duplicates: dict[int, str],
    reference: int | None,
) -> tuple[list[parsing.ParsedRow], dict[int, str], int]:
    read = {line: parser.digest(cells) for line, cells in batch}
    unchanged = _unchanged(job, parser, batch, read, duplicates, reference)
    rows = [parser.parse(line, cells, read[line]) for line, cells in batch if line not in unchanged]
    return rows, duplicates, len(unchanged)


def _unchanged(
    job: ImportJob,
    parser: parsing.Parser,
    batch: list[tuple[int, list[reading.Cell]]],
    read: dict[int, str],
    duplicates: dict[int, str],
    reference: int | None,
) -> set[int]:
    """The lines of the batch whose cells are those the last import of their profile read
    (found by its reference) and whose profile still holds what it left (imports.digests)."""
    if parser.salt is None or reference is None:
        return set()
    by_reference: dict[str, tuple[int, list[reading.Cell]]] = {}
    for line, cells in batch:
        text = parsing.text_of(cells[reference]) if reference < len(cells) else ""
        if text and line not in duplicates:
            by_reference[text] = (line, cells)
    if not by_reference:
        return set()
    attributes = sorted(
        {k for k in parser.mapping.values() if k != mapping.REFERENCE and ":" not in k}
    )
    candidates: dict[int, tuple[int, str, str, dict[str, Any], list[int]]] = {}
    for profile_id, found, last_read, left, *identity in ImportedRow.objects.filter(
        organization=job.organization,
        profile__kind=job.kind,
        profile__external_reference__in=list(by_reference),
        profile__archived_at__isnull=True,
    ).values_list(
        "profile_id",
        "profile__external_reference",
        "read",
        "left",
        *(f"profile__{name}" for name in attributes),
    ):
        line, cells = by_reference[found]
        if last_read != read[line]:
            continue
        names, keys = digests.present(cells, parser.mapping, parsing.text_of)
        held = dict(zip(attributes, identity, strict=True))
        candidates[profile_id] = (
            line,
            found,
            left,
            {name: held[name] for name in names},
            [parser.fields[key].pk for key in keys if key in parser.fields],
        )
    if not candidates:
        return set()
    values: dict[int, dict[int, Any]] = {}
    for profile_id, field_id, value in FieldValue.objects.filter(
        organization=job.organization,
        profile_id__in=list(candidates),
        field_id__in=[f.pk for f in parser.fields.values()],
    ).values_list("profile_id", "field_id", "value"):
        values.setdefault(profile_id, {})[field_id] = value
    unchanged: set[int] = set()
    for profile_id, (line, found, left, identity, field_ids) in candidates.items():
        held_values = values.get(profile_id, {})
        state = digests.of_state(found, identity, {f: held_values.get(f) for f in field_ids})
        if state == left:
            unchanged.add(line)
    return unchanged


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
        total.errors += _file_errors(job)
        if progress and not total.errors:
            ImportJob.objects.filter(pk=job.pk).update(total_rows=count_rows(job))
        done = 0
        chosen = match_field(job)
        for batch, duplicates, unchanged in [] if total.errors else _batches(job):
            if progress:
                done += len(batch) + unchanged
                ImportJob.objects.filter(pk=job.pk).update(rows_done=done)
            result = (
                actions.import_rows(
                    organization=job.organization,
                    actor=actor,
                    kind=job.kind,
                    rows=batch,
                    source=actions.ImportSource(job.uuid, job.filename),
                    dry_run=True,
                    duplicates=duplicates,
                    create_companies=bool(job.options.get("create_companies")),
                    match_field=chosen,
                )
                if batch
                else actions.RowsResult()
            )
            result.unchanged += unchanged
            total.add(result)
    except reading.FileRefused as error:
        # Raised by the first pass over the rows, before any is taken.
        total.errors.append((0, "", str(error)))
    except Exception:
        # A fault of ours, not of the file: the page must not wait for a task that ended.
        logger.exception("imports: the dry run of import %s stopped on an error", job.pk)
        total.errors.append((0, "", str(STOPPED)))
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
        total.errors += _file_errors(job)
        chosen = match_field(job)
        for batch, duplicates, unchanged in [] if total.errors else _batches(job):
            if ImportJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                status = ImportJob.Status.CANCELLED
                break
            result = (
                actions.import_rows(
                    organization=job.organization,
                    actor=actor,
                    kind=job.kind,
                    rows=batch,
                    source=actions.ImportSource(job.uuid, job.filename),
                    duplicates=duplicates,
                    create_companies=bool(job.options.get("create_companies")),
                    match_field=chosen,
                )
                if batch
                else actions.RowsResult()
            )
            result.unchanged += unchanged
            total.add(result, keep_changes=0)
            done += len(batch) + unchanged
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
    except Exception:
        # The batches committed before it stay (whole rows); the job ends as failed, with its
        # audit entry and e-mail, rather than "importing" for ever.
        logger.exception("imports: import %s stopped on an error after %s rows", job.pk, done)
        total.errors.append((0, "", str(STOPPED)))
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
