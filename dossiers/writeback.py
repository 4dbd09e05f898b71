"""Write-back: the one door from a dossier to a profile.

Automatic mode calls it on submission, review mode on each approval. Every write names a
person: the client who answered (or the staff member on their behalf) and, after review,
the member who approved it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from dossiers import fieldpolicy
from dossiers.itemrows import write_items
from dossiers.models import Dossier, DossierItem
from profiles.models import Document, FieldValue, FieldValueHistory, Source
from profiles.services import NewValue, apply_values

# Who answered an item, as its submission attributes it: written with the write-back's columns.
AUTHOR_FIELDS = ("answered_by", "answered_by_user", "answered_via")


@dataclass(frozen=True)
class Approval:
    """Who accepted the answers: a staff member or an API key after review, or nobody
    (automatic mode)."""

    user: Any = None
    api_key: Any = None


def _writes(item: DossierItem) -> bool:
    if item.removing or item.written_document is not None:
        return True
    return item.answer is not None and (item.confirmed or item.value_changed)


def _stale_removals(dossier: Dossier, items: Sequence[DossierItem]) -> set[int]:
    """Removals of a value that is no longer the one the client was shown (staff changed or
    removed it since): like a confirmation, the client's word is about that value only, so
    it never erases a newer one."""
    removing = [item for item in items if item.removing]
    if not removing:
        return set()
    on_file = dict(
        FieldValue.objects.filter(
            profile_id=dossier.profile_id, field_id__in=[item.field_id for item in removing]
        ).values_list("field_id", "value")
    )
    return {item.pk for item in removing if on_file.get(item.field_id) != item.initial_value}


def write_back(
    dossier: Dossier, items: Sequence[DossierItem], by: Approval
) -> list[FieldValueHistory]:
    """Writes the answered `items` of `dossier` to its profile, all or nothing.

    A document's upload becomes the profile's document (the purge no longer touches it).
    A new value, a new file or a "still correct" is fresh evidence: it moves the value's
    evidence dates and expiry, and a value left as it is appends a "confirmed unchanged"
    event. A value the client left as it was asked, unconfirmed (possible in a classic
    dossier only), is not written, so that it cannot undo a newer staff edit. Only the
    client's explicit "this no longer applies" removes a value, and only the value they were
    shown; an item without an answer is not written at all. The items are saved with who
    answered them, as they are in memory.
    """
    # No savepoint of its own: a failure here fails the caller's transaction (or savepoint),
    # which every caller lets it do.
    with transaction.atomic(savepoint=False):
        uploaded = [
            item for item in items if item.field.is_document and item.upload and not item.removing
        ]
        documents = Document.objects.bulk_create(
            Document(
                organization_id=dossier.organization_id,
                profile_id=dossier.profile_id,
                field=item.field,
                file=item.upload.name,
                name=item.upload_name,
                content_type=item.upload_content_type,
                size=item.upload_size or 0,
            )
            for item in uploaded
        )
        for item, document in zip(uploaded, documents, strict=True):
            item.written_document = document
            item.answer = str(document.uuid)
            item.upload = ""
            item.answered = True
        stale = _stale_removals(dossier, items)
        # Fresh evidence clears a value's expiry date, or moves it a period ahead if its
        # field's group says so: read once for the fields written.
        evidence = fieldpolicy.policy().expiry_after_evidence(
            [item.field for item in items if _writes(item)]
        )
        rows: list[FieldValueHistory] = []
        # One call per author: a company's representatives may answer different items.
        by_author: dict[tuple[int | None, int | None, str], list[DossierItem]] = {}
        for item in items:
            author_key = (item.answered_by_id, item.answered_by_user_id, item.answered_via)
            by_author.setdefault(author_key, []).append(item)
        for authored in by_author.values():
            author = authored[0]
            new_values = [
                NewValue(
                    item.field,
                    None if item.removing else item.answer,
                    None if item.removing else item.written_document,
                    confirmed=item.confirmed and not item.value_changed,
                    remove=item.removing,
                )
                for item in authored
                if _writes(item) and item.pk not in stale
            ]
            rows += apply_values(
                dossier.profile,
                new_values,
                source=Source.DOSSIER,
                user=author.answered_by_user,
                recipient=author.answered_by,
                on_behalf=author.answered_by_user_id is not None,
                via=author.answered_via,
                approved_by=by.user,
                api_key_uuid=by.api_key.uuid if by.api_key else None,
                api_key_name=by.api_key.name if by.api_key else "",
                dossier_uuid=dossier.uuid,
                evidence=evidence,
            )
        write_items(items, ["written_document", "answer", "upload", "answered", *AUTHOR_FIELDS])
        return rows
