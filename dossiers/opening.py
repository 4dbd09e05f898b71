"""Opening dossiers: one per profile, in bulk, idempotent; and where an old link now leads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from dossiers.messages import INVITATION, queue_link_messages
from dossiers.models import Dossier, DossierItem
from dossiers.signals import dossiers_sent, requests_changed
from organizations.models import Organization
from profiles.models import DataField, FieldValue, Profile

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
        if created:
            dossiers_sent.send(
                sender=Dossier,
                organization_id=organization.pk,
                dossier_ids=[dossier_id for _, dossier_id in created],
            )
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
            ).update(
                status=Dossier.Status.SUPERSEDED,
                superseded_by=Subquery(newer),
                # Closed now: kept a month from today for the record, like any decision.
                decided_at=now,
            )
        ids = list(dossier_of_profile.values())
        queue_link_messages(ids, INVITATION)
        requests_changed.send(
            sender=Dossier, organization_id=organization.pk, profile_ids=list(profile_ids)
        )
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
                initial_document_id, answered, confirmed, review, rejection_reason, upload,
                upload_name, upload_content_type)
            SELECT d.organization_id, d.id, f.field_id, f.position, v.value, v.document_id,
                FALSE, FALSE, '', '', '', '', ''
            FROM {dossier} d
            CROSS JOIN ({asked}) f
            LEFT JOIN {value} v ON v.profile_id = d.profile_id AND v.field_id = f.field_id
            WHERE d.id IN ({ids})
            ON CONFLICT (dossier_id, field_id) DO NOTHING
            """,  # noqa: S608 - table names come from the models, values are parameters
            [*params, *dossier_ids],
        )


def follow_supersession(dossier: Dossier) -> Dossier:
    """The dossier an old link now leads to: the newest of its chain."""
    seen = {dossier.pk}
    while dossier.superseded_by_id and dossier.superseded_by_id not in seen:
        seen.add(dossier.superseded_by_id)
        dossier = Dossier.objects.select_related("profile", "organization").get(
            pk=dossier.superseded_by_id
        )
    return dossier
