"""Opening dossiers: one per profile, in bulk, idempotent; and where an old link now leads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection, transaction
from django.db.models import Field, OuterRef, Subquery
from django.utils import timezone

from dossiers.messages import INVITATION, link_messages_ctes, queue_link_messages
from dossiers.models import Dossier, DossierItem, RequestPolicy
from dossiers.signals import dossiers_sent, requests_changed
from organizations.models import Organization
from outbox.mail import kick
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
    policy: RequestPolicy | None = None,
) -> list[int]:
    """Opens one dossier per profile asking for `fields`; returns the ids of the dossiers.

    `policy` is what the opener decides for the dossiers (review, reminders), written on
    each of them: a group's dossiers carry their group's, handed over by monitoring.

    Safe to run again for the same chunk: the unique constraint on (group, period, profile)
    and on (dossier, field) turns a repeat into no change, so a task delivered twice, or two
    workers on one chunk, leave one dossier per profile. The queries do not depend on the
    chunk's size: a handful per call, whatever the number of profiles.
    """
    if not profile_ids:
        return []
    now = timezone.now()
    expires_at = expires_at or update_dossier_expiry(now)
    columns = {
        "kind": kind,
        "title": title,
        "message": message,
        "update_group": update_group_id,
        "period": period,
        "created_by": created_by.pk if created_by else None,
        "created_at": now,
        "expires_at": expires_at,
        **(policy or RequestPolicy()).columns(),
    }
    # Within its caller's transaction when there is one (a run's page, with the run's own
    # reads and writes): no caller goes on after a failure here, so no savepoint is needed,
    # which would cost two round trips a page.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            # Dossiers, items, invitations and supersession in one statement: a round trip
            # per chunk instead of five (docs/PERFORMANCE.md).
            created = _open_in_one_statement(organization, profile_ids, fields, now, **columns)
            done = {dossier_id for _, dossier_id in created}
        else:
            created = _insert_dossiers(organization, profile_ids, **columns)
            done = set()
        dossier_of_profile = dict(created)
        if len(dossier_of_profile) < len(profile_ids) and update_group_id is not None:
            # A repeat's rows were skipped, not returned: read those that were there already.
            missing = [p for p in profile_ids if p not in dossier_of_profile]
            dossier_of_profile.update(
                Dossier.objects.filter(
                    update_group_id=update_group_id, period=period, profile_id__in=missing
                ).values_list("profile_id", "id")
            )
        # What the one statement did not do: everything on SQLite, a repeat's rows on
        # PostgreSQL (each a no-op when the repeat's first pass committed, as it does).
        rest = {p: d for p, d in dossier_of_profile.items() if d not in done}
        _insert_items(list(rest.values()), fields)
        if created:
            dossiers_sent.send(
                sender=Dossier,
                organization_id=organization.pk,
                dossier_ids=[dossier_id for _, dossier_id in created],
            )
        if update_group_id is not None and rest:
            _supersede(update_group_id, period, list(rest), now)
        if rest:
            queue_link_messages(list(rest.values()), INVITATION, settle=update_group_id is not None)
        elif created:
            transaction.on_commit(kick)
        requests_changed.send(
            sender=Dossier,
            organization_id=organization.pk,
            profile_ids=list(profile_ids),
            # Every profile got a new dossier in the one statement: the listeners may take
            # them as new requests rather than recompute the profiles.
            opened=[dossier_id for _, dossier_id in created] if done and not rest else None,
        )
    return list(dossier_of_profile.values())


def _supersede(
    update_group_id: int, period: dt.date | None, profile_ids: Sequence[int], now: dt.datetime
) -> None:
    """A client never holds two open dossiers of one group: the new one supersedes."""
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


def _open_in_one_statement(
    organization: Organization,
    profile_ids: Sequence[int],
    fields: Sequence[DataField],
    now: dt.datetime,
    **columns: Any,
) -> list[tuple[int, int]]:
    """PostgreSQL: the chunk's dossiers, their items, their invitations in the outbox (with
    their links to the dossiers) and the closing of the dossiers they supersede, in one
    statement of data-modifying CTEs; returns (profile id, dossier id) of the new dossiers.

    The items, messages and supersession are those of the rows the INSERT … RETURNING gives,
    so a repeat's skipped rows get none here (the caller completes them). Every part keeps
    its own ON CONFLICT, as when they were separate statements.
    """
    insert, insert_params = _dossiers_insert(organization, profile_ids, **columns)
    parts = [f"new AS ({insert} RETURNING id, organization_id, profile_id)"]
    params: list[Any] = [*insert_params]
    if fields:
        items, item_params = _items_insert("new", [], fields, profile_ids)
        parts.append(f"items AS ({items})")
        params += item_params
    messages, message_params = link_messages_ctes(
        INVITATION,
        "new",
        [],
        profiles=(_in("{}", profile_ids), _in_params(profile_ids)),
        settle=columns.get("update_group") is not None,
    )
    parts += messages
    params += message_params
    group = columns.get("update_group")
    if group is not None:
        table = Dossier._meta.db_table
        open_statuses = ", ".join(["%s"] * len(Dossier.OPEN_STATUSES))
        parts.append(
            f"""superseded AS (
                UPDATE {table} o SET status = %s, superseded_by_id = n.id, decided_at = %s
                FROM new n
                WHERE o.profile_id = n.profile_id AND {_in("o.profile_id", profile_ids)}
                    AND o.update_group_id = %s AND o.period < %s
                    AND o.status IN ({open_statuses})
            )"""  # noqa: S608 - names come from the models, values are parameters
        )
        # The chunk's profiles bound the look-up (the index on profile and status): with
        # nothing to supersede it costs a probe per profile, not a scan of the group's past.
        params += [
            Dossier.Status.SUPERSEDED,
            connection.ops.adapt_datetimefield_value(now),
            *_in_params(profile_ids),
            group,
            connection.ops.adapt_datefield_value(columns.get("period")),
            *Dossier.OPEN_STATUSES,
        ]
    with connection.cursor() as cursor:
        # Every part is built above from the models; values are parameters.
        sql = f"WITH {', '.join(parts)} SELECT profile_id, id FROM new"  # noqa: S608
        cursor.execute(sql, params)
        return cursor.fetchall()


def _insert_dossiers(
    organization: Organization, profile_ids: Sequence[int], **columns: Any
) -> list[tuple[int, int]]:
    """One INSERT … SELECT of a chunk's dossiers; returns (profile id, dossier id) of new rows.

    The rows never pass through Python: as model instances they were most of the fan-out's
    time (docs/PERFORMANCE.md). The unique (group, period, profile) constraint skips the rows
    of a repeat. The UUID comes from the database.
    """
    sql, params = _dossiers_insert(organization, profile_ids, **columns)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING profile_id, id", params)
        return cursor.fetchall()


def _dossiers_insert(
    organization: Organization, profile_ids: Sequence[int], **columns: Any
) -> tuple[str, list[Any]]:
    fields = [_column(name) for name in ["organization", "status", *columns]]
    values = [organization.pk, Dossier.Status.OPEN, *columns.values()]
    params = [f.get_db_prep_save(v, connection) for (f, _), v in zip(fields, values, strict=True)]
    random_uuid = (
        "gen_random_uuid()"
        if connection.vendor == "postgresql"
        else "lower(hex(randomblob(16)))"  # SQLite keeps a UUID as 32 hex characters
    )
    names = ", ".join(connection.ops.quote_name(column) for _, column in fields)
    sql = f"""
        INSERT INTO {Dossier._meta.db_table} (uuid, profile_id, {names})
        SELECT {random_uuid}, p.id, {", ".join(["%s"] * len(fields))}
        FROM {Profile._meta.db_table} p
        WHERE {_in("p.id", profile_ids)}
        ON CONFLICT DO NOTHING
    """  # noqa: S608 - names come from the models, values are parameters
    return sql, [*params, *_in_params(profile_ids)]


def _column(name: str) -> tuple[Field[Any, Any], str]:
    """Dossier's field of this name and its column (a reverse relation has none)."""
    field = Dossier._meta.get_field(name)
    if not isinstance(field, Field) or field.column is None:
        raise TypeError(f"Dossier.{name} is not a column")
    return field, field.column


def _in(column: str, values: Sequence[int]) -> str:
    # One array parameter on PostgreSQL: planned once whatever the chunk's size.
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)"
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


def _in_params(values: Sequence[int]) -> list[Any]:
    return [list(values)] if connection.vendor == "postgresql" else list(values)


def _insert_items(dossier_ids: list[int], fields: Sequence[DataField]) -> None:
    """One item per (dossier, field), prefilled from the profile's current value.

    One INSERT … SELECT: the rows never pass through Python, where four fifths of the
    fan-out's time went on model instances (docs/PERFORMANCE.md). Items already there stay.
    """
    if not dossier_ids or not fields:
        return
    ids = ", ".join(["%s"] * len(dossier_ids))
    sql, params = _items_insert(
        f"(SELECT id, organization_id, profile_id FROM {Dossier._meta.db_table}"  # noqa: S608
        f" WHERE id IN ({ids}))",
        dossier_ids,
        fields,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _items_insert(
    dossiers: str,
    dossier_params: Sequence[Any],
    fields: Sequence[DataField],
    profile_ids: Sequence[int] | None = None,
) -> tuple[str, list[Any]]:
    """The items' INSERT … SELECT for the relation `dossiers` (SQL with columns id,
    organization_id, profile_id, and its parameters). `profile_ids`, the dossiers' profiles
    when the caller knows them, bounds the values read to theirs: without it PostgreSQL,
    not knowing which profiles a CTE returns, hashes every value of the table, per chunk."""
    item, value = (model._meta.db_table for model in (DossierItem, FieldValue))
    asked = " UNION ALL ".join(["SELECT %s AS field_id, %s AS position"] * len(fields))
    params: list[Any] = [p for position, f in enumerate(fields) for p in (f.pk, position)]
    sql = f"""
        INSERT INTO {item} (organization_id, dossier_id, field_id, position, initial_value,
            initial_document_id, answered, confirmed, remove_requested, review,
            rejection_reason, upload, upload_name, upload_content_type)
        SELECT d.organization_id, d.id, f.field_id, f.position, v.value, v.document_id,
            FALSE, FALSE, FALSE, '', '', '', '', ''
        FROM {dossiers} d
        CROSS JOIN ({asked}) f
        LEFT JOIN {value} v ON v.profile_id = d.profile_id AND v.field_id = f.field_id
            {"AND " + _in("v.profile_id", profile_ids) if profile_ids is not None else ""}
        WHERE 1 = 1  -- SQLite reads an ON right after a join as the join's
        ON CONFLICT (dossier_id, field_id) DO NOTHING
    """  # noqa: S608 - table names come from the models, values are parameters
    bound = _in_params(profile_ids) if profile_ids is not None else []
    return sql, [*dossier_params, *params, *bound]


def follow_supersession(dossier: Dossier) -> Dossier:
    """The dossier an old link now leads to: the newest of its chain."""
    seen = {dossier.pk}
    while dossier.superseded_by_id and dossier.superseded_by_id not in seen:
        seen.add(dossier.superseded_by_id)
        dossier = Dossier.objects.select_related("profile", "organization").get(
            pk=dossier.superseded_by_id
        )
    return dossier
