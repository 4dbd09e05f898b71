"""The client's side of a dossier: keeping a draft, and submitting it."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from dossiers.messages import queue_submission_notices
from dossiers.models import Dossier, DossierItem
from profiles.models import Document, Profile, Source
from profiles.services import NewValue, apply_values
from profiles.storage import forget

logger = logging.getLogger(__name__)


class WriteBackError(Exception):
    """The submission could not be written; nothing was, and the dossier is still open."""


def save_draft(
    dossier: Dossier,
    answers: dict[int, Any],
    uploads: dict[int, tuple[str, str, str, int]],
) -> None:
    """Keeps the client's answers and uploads without touching the profile.

    `uploads` maps item ids to (storage key, clean name, content type, size) of files already
    stored; a draft upload replaced by another is recorded for deletion with the new one.
    """
    replaced: list[str] = []
    with transaction.atomic():
        locked = Dossier.objects.select_for_update().get(pk=dossier.pk)
        if locked.status not in Dossier.OPEN_STATUSES:
            raise WriteBackError("already closed")
        items = {
            i.pk: i for i in DossierItem.objects.filter(dossier=locked, pk__in=[*answers, *uploads])
        }
        for item_id, value in answers.items():
            item = items[item_id]
            item.answer, item.answered = value, True
        for item_id, (key, name, content_type, size) in uploads.items():
            item = items[item_id]
            if item.upload:
                replaced.append(item.upload.name)
            item.upload = key
            item.upload_name, item.upload_content_type, item.upload_size = name, content_type, size
            item.answered = True
        DossierItem.objects.bulk_update(
            list(items.values()),
            ["answer", "answered", "upload", "upload_name", "upload_content_type", "upload_size"],
        )
        if locked.status == Dossier.Status.OPEN:
            locked.status = Dossier.Status.IN_PROGRESS
            locked.save(update_fields=["status"])
        forget(replaced)


def submit(dossier: Dossier, answers: dict[int, Any], recipient: Profile | None) -> int:
    """Writes the client's answers to the profile, all or nothing, and closes the dossier.

    `answers` maps item ids to canonical values (documents arrive as draft uploads already in
    storage). Returns the number of values that changed.
    """
    try:
        with transaction.atomic():
            locked = Dossier.objects.select_for_update().get(pk=dossier.pk)
            if locked.status not in Dossier.OPEN_STATUSES:
                raise WriteBackError("already closed")
            items = list(DossierItem.objects.filter(dossier=locked).select_related("field"))
            uploaded = [item for item in items if item.field.is_document and item.upload]
            documents = Document.objects.bulk_create(
                Document(
                    organization_id=locked.organization_id,
                    profile_id=locked.profile_id,
                    field=item.field,
                    file=item.upload.name,
                    name=item.upload_name,
                    content_type=item.upload_content_type,
                    size=item.upload_size or 0,
                )
                for item in uploaded
            )
            document_of = {item.pk: doc for item, doc in zip(uploaded, documents, strict=True)}
            new_values: list[NewValue] = []
            for item in items:
                if item.pk in document_of:
                    # The file is the profile's from now on: the purge must not touch it.
                    item.written_document = document_of[item.pk]
                    item.answer = str(item.written_document.uuid)
                    item.upload = ""
                    item.answered = True
                    new_values.append(NewValue(item.field, item.answer, item.written_document))
                elif not item.field.is_document and item.pk in answers:
                    item.answer = answers[item.pk]
                    item.answered = True
                    # What the client left as it was asked must not undo a newer staff edit.
                    if item.answer != item.initial_value:
                        new_values.append(NewValue(item.field, item.answer))
            DossierItem.objects.bulk_update(
                items, ["written_document", "answer", "upload", "answered"]
            )
            rows = apply_values(locked.profile, new_values, source=Source.DOSSIER, dossier=locked)
            locked.status = Dossier.Status.SUBMITTED
            locked.submitted_at = timezone.now()
            locked.save(update_fields=["status", "submitted_at"])
            queue_submission_notices(locked, recipient)
    except WriteBackError:
        raise
    except Exception as error:
        logger.exception("Write-back of dossier %s failed", dossier.pk)
        raise WriteBackError(str(error)) from error
    return len(rows)
