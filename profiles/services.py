"""Writing values to a profile: the one path every change takes, so none skips its history."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from profiles import fieldtypes
from profiles.models import (
    DataField,
    Document,
    FieldValue,
    FieldValueHistory,
    HistoryKind,
    Profile,
    Source,
    document_key,
)
from profiles.previews import store_preview
from profiles.signals import values_changed
from profiles.storage import StorageUnavailable, forget
from profiles.uploads import clean_filename, name_for_type

logger = logging.getLogger(__name__)
K = TypeVar("K")


@dataclass(frozen=True)
class NewValue:
    field: DataField
    value: Any  # canonical (see profiles.fieldtypes); None clears the value
    document: Document | None = None
    # The client said the value as asked is still correct.
    confirmed: bool = False
    # A value is removed only when someone said so: None without this is refused, so an
    # absent or emptied input can never erase what is on file, whatever the door.
    remove: bool = False

    def __post_init__(self) -> None:
        if self.value is None and not self.remove:
            raise ImplicitRemoval(self.field)
        if self.remove and self.value is not None:
            raise ValueError("a removal carries no value")


class ImplicitRemoval(ValueError):
    """A door passed an empty value without an explicit "remove this value"."""

    def __init__(self, field: DataField) -> None:
        super().__init__(f"no value for {field.pk}: a removal must be explicit (remove=True)")
        self.field = field


@dataclass(frozen=True)
class StoredFile:
    key: str
    name: str
    content_type: str
    size: int


def store_file(upload: UploadedFile, *, name: str, content_type: str) -> StoredFile:
    """Puts an upload in storage. Slow I/O: call it before the transaction, not inside.

    The name and the key take the extension of `content_type`, read from the content:
    whatever the client called the file, it is stored and downloaded as what it is.
    """
    name = name_for_type(name, content_type)
    key = default_storage.save(document_key(None, name), upload)
    try:
        store_preview(key, upload, content_type)
    except Exception:
        forget([key])
        raise
    return StoredFile(key=key, name=name, content_type=content_type, size=upload.size or 0)


def store_uploads(uploads: Mapping[K, UploadedFile]) -> dict[K, StoredFile]:
    """Stores checked uploads (see profiles.uploads.check_upload) under clean names.

    The one orchestration of the staff values form and the client portal: slow I/O, so
    called before the transaction; all or nothing, so a failure half-way leaves no file.
    """
    stored: dict[K, StoredFile] = {}
    try:
        for key, upload in uploads.items():
            stored[key] = store_file(
                upload,
                name=clean_filename(upload.name),
                content_type=upload.sniffed_content_type,  # type: ignore[attr-defined]
            )
    except Exception as error:
        logger.exception("Storing an upload failed")
        delete_stored(stored.values())
        raise StorageUnavailable(str(error)) from error
    return stored


def delete_stored(files: Iterable[StoredFile]) -> None:
    """Files stored for nothing (a failure came after): recorded for deletion, deleted after the
    commit or by the sweep. Never raises a storage error into the caller's error handling."""
    forget(stored.key for stored in files)


def new_document(profile: Profile, field: DataField, stored: StoredFile) -> Document:
    return Document.objects.create(
        organization_id=profile.organization_id,
        profile=profile,
        field=field,
        file=stored.key,
        name=stored.name,
        content_type=stored.content_type,
        size=stored.size,
    )


def set_expiry_date(value: FieldValue, expires_on: dt.date | None) -> None:
    """Sets or clears a value's expiry date by hand. Not a change of the value: no history row.

    Saved as a model save so that the receivers that keep derived tables (the compliance
    overview's cells) hear of it in the caller's transaction.
    """
    value.expires_on = expires_on
    value.save(update_fields=["expires_on", "updated_at"])


ExpiryRule = Callable[[DataField], dt.date | None]


def apply_values(
    profile: Profile,
    new_values: Iterable[NewValue],
    *,
    source: Source,
    user: Any = None,
    evidence: ExpiryRule | None = None,
    **history: Any,
) -> list[FieldValueHistory]:
    """Writes the values that changed and appends one history row for each.

    Unchanged values are left alone. All or nothing: the caller's transaction, or this one.
    `history` carries further attributes of the rows (the dossier behind a write-back).

    With `evidence` every value given is a client's fresh answer: its evidence date moves
    to now, `evidence(field)` gives its new expiry date, and an answer that leaves the value
    as it is appends an event of its own. A confirmation ("still correct") vouches for the
    value the client was shown: if staff changed it since, it is not written, so it can
    never undo the newer value.
    """
    new_values = list(new_values)
    now = timezone.now()
    # No savepoint of its own: every caller is atomic already and lets a failure here fail
    # its transaction (or savepoint), so a savepoint would cost two queries for nothing.
    with transaction.atomic(savepoint=False):
        current = {
            fv.field_id: fv
            for fv in FieldValue.objects.select_for_update().filter(
                profile=profile, field__in=[nv.field for nv in new_values]
            )
        }
        rows: list[FieldValueHistory] = []
        created: list[FieldValue] = []
        updated: list[FieldValue] = []
        cleared: list[int] = []
        for nv in new_values:
            existing = current.get(nv.field.pk)
            old_value = existing.value if existing else None
            old_document_id = existing.document_id if existing else None
            new_document_id = nv.document.pk if nv.document else None
            unchanged = (
                fieldtypes.same(nv.field, old_value, nv.value)
                and old_document_id == new_document_id
            )
            if nv.confirmed and not unchanged:
                continue
            if unchanged and evidence is None:
                continue
            if unchanged:
                if existing:
                    existing.last_evidenced_at = now
                    if nv.confirmed:
                        existing.last_confirmed_at = now
                    existing.expires_on = evidence(nv.field)  # type: ignore[misc]
                    updated.append(existing)
                rows.append(
                    FieldValueHistory(
                        organization_id=profile.organization_id,
                        profile=profile,
                        field=nv.field,
                        kind=HistoryKind.CONFIRMATION if nv.confirmed else HistoryKind.ANSWER,
                        old_value=old_value,
                        new_value=old_value,
                        old_document_id=old_document_id,
                        new_document_id=old_document_id,
                        source=source,
                        user=user,
                        changed_at=now,
                        **history,
                    )
                )
                continue
            if nv.value is None:
                if existing:
                    cleared.append(existing.pk)
            elif existing:
                existing.value = nv.value
                existing.document = nv.document
                if evidence is not None:
                    existing.last_evidenced_at = now
                    existing.expires_on = evidence(nv.field)
                updated.append(existing)
            else:
                created.append(
                    FieldValue(
                        organization_id=profile.organization_id,
                        profile=profile,
                        field=nv.field,
                        value=nv.value,
                        document=nv.document,
                        last_evidenced_at=now if evidence is not None else None,
                        expires_on=evidence(nv.field) if evidence is not None else None,
                    )
                )
            rows.append(
                FieldValueHistory(
                    organization_id=profile.organization_id,
                    profile=profile,
                    field=nv.field,
                    old_value=old_value,
                    new_value=nv.value,
                    old_document_id=old_document_id,
                    new_document_id=new_document_id,
                    source=source,
                    user=user,
                    changed_at=now,
                    **history,
                )
            )
        for fv in updated:
            fv.updated_at = now
        # A few statements whatever the number of fields: a form of a hundred fields costs
        # what a form of one does.
        if cleared:
            FieldValue.objects.filter(pk__in=cleared).delete()
        if updated:
            FieldValue.objects.bulk_update(
                updated,
                [
                    "value",
                    "document",
                    "updated_at",
                    "expires_on",
                    "last_evidenced_at",
                    "last_confirmed_at",
                ],
            )
        if created:
            FieldValue.objects.bulk_create(created)
        FieldValueHistory.objects.bulk_create(rows)
        if rows:
            values_changed.send(sender=Profile, profile=profile, rows=rows)
        return rows
