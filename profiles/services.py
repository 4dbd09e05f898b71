"""Writing values to a profile: the one path every change takes, so none skips its history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from profiles.models import (
    DataField,
    Document,
    FieldValue,
    FieldValueHistory,
    Profile,
    Source,
    document_key,
)


@dataclass(frozen=True)
class NewValue:
    field: DataField
    value: Any  # canonical (see profiles.fieldtypes); None clears the value
    document: Document | None = None


@dataclass(frozen=True)
class StoredFile:
    key: str
    name: str
    content_type: str
    size: int


def store_file(upload: UploadedFile, *, name: str, content_type: str) -> StoredFile:
    """Puts an upload in storage. Slow I/O: call it before the transaction, not inside."""
    key = default_storage.save(document_key(None, name), upload)
    return StoredFile(key=key, name=name, content_type=content_type, size=upload.size)


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


def apply_values(
    profile: Profile,
    new_values: Iterable[NewValue],
    *,
    source: Source,
    user: Any = None,
    **history: Any,
) -> list[FieldValueHistory]:
    """Writes the values that changed and appends one history row for each.

    Unchanged values are left alone. All or nothing: the caller's transaction, or this one.
    `history` carries further attributes of the rows (the dossier behind a write-back).
    """
    new_values = list(new_values)
    with transaction.atomic():
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
            if old_value == nv.value and old_document_id == new_document_id:
                continue
            if nv.value is None:
                if existing:
                    cleared.append(existing.pk)
            elif existing:
                existing.value = nv.value
                existing.document = nv.document
                existing.updated_at = timezone.now()
                updated.append(existing)
            else:
                created.append(
                    FieldValue(
                        organization_id=profile.organization_id,
                        profile=profile,
                        field=nv.field,
                        value=nv.value,
                        document=nv.document,
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
                    **history,
                )
            )
        # A few statements whatever the number of fields: a form of a hundred fields costs
        # what a form of one does.
        if cleared:
            FieldValue.objects.filter(pk__in=cleared).delete()
        if updated:
            FieldValue.objects.bulk_update(updated, ["value", "document", "updated_at"])
        if created:
            FieldValue.objects.bulk_create(created)
        FieldValueHistory.objects.bulk_create(rows)
        return rows
