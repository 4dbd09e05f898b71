"""Opening dossiers in bulk, writing a submission back, and purging old dossiers."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from dossiers.models import AccessToken, Dossier, DossierItem, DossierRecord
from organizations.models import Organization
from profiles.models import DataField, Document, FieldValue, Profile, Source
from profiles.services import NewValue, apply_values

logger = logging.getLogger(__name__)

UPDATE_DOSSIER_LIFETIME = relativedelta(months=1)


def update_dossier_expiry(created_at: dt.datetime) -> dt.datetime:
    return created_at + UPDATE_DOSSIER_LIFETIME


def open_dossiers(
    organization: Organization,
    profile_ids: Sequence[int],
    fields: Sequence[DataField],
    *,
    kind: str,
    title: str,
    update_group_id: int | None = None,
    period: dt.date | None = None,
    expires_at: dt.datetime | None = None,
    created_by: Any = None,
    message: str = "",
) -> list[int]:
    """Opens one dossier per profile asking for `fields`; returns the ids of the dossiers.

    Safe to run again for the same chunk: the unique constraint on (group, period, profile)
    and on (dossier, field) turns a repeat into no change, so a task delivered twice, or two
    workers on one chunk, leave one dossier per profile. The queries do not depend on the
    chunk's size: a handful per call, whatever the number of profiles.
    """
    if not profile_ids:
        return []
    now = timezone.now()
    expires_at = expires_at or update_dossier_expiry(now)
    with transaction.atomic():
        created = _insert_dossiers(
            organization,
            profile_ids,
            kind=kind,
            title=title,
            message=message,
            update_group=update_group_id,
            period=period,
            created_by=created_by.pk if created_by else None,
            created_at=now,
            expires_at=expires_at,
        )
        dossier_of_profile = dict(created)
        if len(dossier_of_profile) < len(profile_ids) and update_group_id is not None:
            # A repeat's rows were skipped, not returned: read those that were there already.
            missing = [p for p in profile_ids if p not in dossier_of_profile]
            dossier_of_profile.update(
                Dossier.objects.filter(
                    update_group_id=update_group_id, period=period, profile_id__in=missing
                ).values_list("profile_id", "id")
            )
        _insert_items(list(dossier_of_profile.values()), fields)
        if update_group_id is not None:
            # A client never holds two open dossiers of one group: the new one supersedes.
            newer = Dossier.objects.filter(
                update_group_id=update_group_id, period=period, profile_id=OuterRef("profile_id")
            ).values("id")[:1]
            Dossier.objects.filter(
                update_group_id=update_group_id,
                profile_id__in=profile_ids,
                status__in=Dossier.OPEN_STATUSES,
                period__lt=period,
            ).update(status=Dossier.Status.SUPERSEDED, superseded_by=Subquery(newer))
        ids = list(dossier_of_profile.values())
        transaction.on_commit(lambda: _enqueue_invitations(ids))
    return ids


def _insert_dossiers(
    organization: Organization, profile_ids: Sequence[int], **columns: Any
) -> list[tuple[int, int]]:
    """One INSERT … SELECT of a chunk's dossiers; returns (profile id, dossier id) of new rows.

    The rows never pass through Python: as model instances they were most of the fan-out's
    time (docs/PERFORMANCE.md). The unique (group, period, profile) constraint skips the rows
    of a repeat. The UUID comes from the database.
    """
    fields = [Dossier._meta.get_field(name) for name in ["organization", "status", *columns]]
    values = [organization.pk, Dossier.Status.OPEN, *columns.values()]
    params = [f.get_db_prep_save(v, connection) for f, v in zip(fields, values, strict=True)]
    random_uuid = (
        "gen_random_uuid()"
        if connection.vendor == "postgresql"
        else "lower(hex(randomblob(16)))"  # SQLite keeps a UUID as 32 hex characters
    )
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Dossier._meta.db_table} (uuid, profile_id, {names})
            SELECT {random_uuid}, p.id, {", ".join(["%s"] * len(fields))}
            FROM {Profile._meta.db_table} p
            WHERE p.id IN ({", ".join(["%s"] * len(profile_ids))})
            ON CONFLICT DO NOTHING
            RETURNING profile_id, id
            """,  # noqa: S608 - names come from the models, values are parameters
            [*params, *profile_ids],
        )
        return cursor.fetchall()


def _insert_items(dossier_ids: list[int], fields: Sequence[DataField]) -> None:
    """One item per (dossier, field), prefilled from the profile's current value.

    One INSERT … SELECT: the rows never pass through Python, where four fifths of the
    fan-out's time went on model instances (docs/PERFORMANCE.md). Items already there stay.
    """
    if not dossier_ids or not fields:
        return
    item, dossier, value = (model._meta.db_table for model in (DossierItem, Dossier, FieldValue))
    asked = " UNION ALL ".join(["SELECT %s AS field_id, %s AS position"] * len(fields))
    params: list[Any] = [p for position, f in enumerate(fields) for p in (f.pk, position)]
    ids = ", ".join(["%s"] * len(dossier_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {item} (organization_id, dossier_id, field_id, position, initial_value,
                initial_document_id, answered, upload, upload_name, upload_content_type)
            SELECT d.organization_id, d.id, f.field_id, f.position, v.value, v.document_id,
                FALSE, '', '', ''
            FROM {dossier} d
            CROSS JOIN ({asked}) f
            LEFT JOIN {value} v ON v.profile_id = d.profile_id AND v.field_id = f.field_id
            WHERE d.id IN ({ids})
            ON CONFLICT (dossier_id, field_id) DO NOTHING
            """,  # noqa: S608 - table names come from the models, values are parameters
            [*params, *dossier_ids],
        )


def _enqueue_invitations(dossier_ids: list[int]) -> None:
    from dossiers.tasks import send_invitations

    enqueue(send_invitations, dossier_ids)


def enqueue(task: Any, *args: Any) -> None:
    """Best effort: with the broker down the work is not lost, a periodic sweep picks it up."""
    try:
        task.apply_async(
            args=args,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        )
    except Exception:
        logger.exception("Could not enqueue %s; the periodic sweep will retry", task.name)


def follow_supersession(dossier: Dossier) -> Dossier:
    """The dossier an old link now leads to: the newest of its chain."""
    seen = {dossier.pk}
    while dossier.superseded_by_id and dossier.superseded_by_id not in seen:
        seen.add(dossier.superseded_by_id)
        dossier = Dossier.objects.select_related("profile", "organization").get(
            pk=dossier.superseded_by_id
        )
    return dossier


class WriteBackError(Exception):
    """The submission could not be written; nothing was, and the dossier is still open."""


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
            recipient_id = recipient.pk if recipient else None
            transaction.on_commit(lambda: _enqueue_submitted(locked.pk, recipient_id))
    except WriteBackError:
        raise
    except Exception as error:
        logger.exception("Write-back of dossier %s failed", dossier.pk)
        raise WriteBackError(str(error)) from error
    return len(rows)


def _enqueue_submitted(dossier_id: int, recipient_id: int | None) -> None:
    from dossiers.tasks import send_submission_notices

    enqueue(send_submission_notices, dossier_id, recipient_id)


def delete_files(keys: Iterable[str]) -> int:
    """Deletes storage keys, S3_DELETE_BATCH_SIZE per request on S3, one by one elsewhere."""
    keys = [key for key in keys if key]
    bucket = getattr(default_storage, "bucket", None)
    if bucket is not None:
        size = settings.S3_DELETE_BATCH_SIZE
        for start in range(0, len(keys), size):
            chunk = keys[start : start + size]
            bucket.delete_objects(
                Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
            )
    else:
        for key in keys:
            default_storage.delete(key)
    return len(keys)


def purge_dossiers(now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """Deletes update dossiers a month after their creation, and their unclaimed uploads.

    Documents written back belong to the profile and stay. A DossierRecord keeps, for audit,
    who was asked, when and what came of it, and no uploaded content. Crosses tenants: the
    caller runs it with scopes disabled.
    """
    now = now or timezone.now()
    cutoff = now - UPDATE_DOSSIER_LIFETIME
    purged = 0
    while True:
        with transaction.atomic():
            batch = list(
                Dossier.objects.filter(kind=Dossier.Kind.UPDATE, created_at__lte=cutoff)
                .select_related("profile")
                .order_by("id")[:batch_size]
            )
            if not batch:
                break
            ids = [d.pk for d in batch]
            keys = list(
                DossierItem.objects.filter(dossier_id__in=ids)
                .exclude(upload="")
                .values_list("upload", flat=True)
            )
            labels: dict[int, list[str]] = {}
            for dossier_id, label in DossierItem.objects.filter(dossier_id__in=ids).values_list(
                "dossier_id", "field__label"
            ):
                labels.setdefault(dossier_id, []).append(label)
            recipients: dict[int, set[str]] = {}
            for dossier_id, first, last, email in AccessToken.objects.filter(
                dossier_id__in=ids
            ).values_list(
                "dossier_id", "recipient__first_name", "recipient__last_name", "recipient__email"
            ):
                recipients.setdefault(dossier_id, set()).add(f"{first} {last} <{email}>".strip())
            DossierRecord.objects.bulk_create(
                [
                    DossierRecord(
                        organization_id=d.organization_id,
                        profile_id=d.profile_id,
                        dossier_uuid=d.uuid,
                        kind=d.kind,
                        title=d.title,
                        recipients=", ".join(sorted(recipients.get(d.pk, ()))),
                        fields=labels.get(d.pk, []),
                        outcome=Dossier.Status.EXPIRED if d.is_expired else d.status,
                        created_at=d.created_at,
                        expires_at=d.expires_at,
                        submitted_at=d.submitted_at,
                        purged_at=now,
                    )
                    for d in batch
                ],
                ignore_conflicts=True,
            )
            Dossier.objects.filter(superseded_by_id__in=ids).update(superseded_by=None)
            Dossier.objects.filter(pk__in=ids).delete()
            # Storage is not transactional: delete the files once the rows are gone for good.
            transaction.on_commit(lambda keys=keys: delete_files(keys))
        purged += len(batch)
    return purged


def expire_dossiers(now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return Dossier.objects.filter(status__in=Dossier.OPEN_STATUSES, expires_at__lte=now).update(
        status=Dossier.Status.EXPIRED
    )


def save_draft(
    dossier: Dossier,
    answers: dict[int, Any],
    uploads: dict[int, tuple[str, str, str, int]],
) -> None:
    """Keeps the client's answers and uploads without touching the profile.

    `uploads` maps item ids to (storage key, clean name, content type, size) of files already
    stored; a draft upload replaced by another is deleted once the new one is recorded.
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
        transaction.on_commit(lambda: delete_files(replaced))
