"""The compliance overview: every profile by monitored field, each cell one status.

Statuses are computed by the database from indexed columns — the value's `expires_on`,
dossiers by (profile, status), items by (dossier, field) — in one statement per question
(a page, the counts, an export), never row by row in Python.

A cell's status, first match wins:
- requested: an open request asks for it (sent, opened, draft, changes requested, or
  answered and waiting for staff review);
- overdue: the latest request for it closed unanswered and nothing fresh came since;
- missing: there is no value;
- expired: its expiry date has passed;
- expiring: it expires within 30 days;
- valid: otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from dossiers.models import Dossier, DossierItem
from monitoring.models import UpdateGroup
from profiles.models import EXPIRY_WARNING_DAYS, DataField, FieldValue, Profile

STATUSES = ("valid", "expiring", "requested", "overdue", "expired", "missing")
# What puts a profile in the lists' "needs attention" filter.
ATTENTION = ("overdue", "expired", "missing")


@dataclass(frozen=True)
class Filters:
    group_id: int | None = None
    status: str = ""
    company_id: int | None = None
    kind: str = ""
    query: str = ""
    profile_ids: tuple[int, ...] = ()


def _cells(organization_id: int, filters: Filters, today: dt.date) -> tuple[str, list[Any]]:
    """The SELECT of every cell with its status; the callers wrap it."""
    p, f, v = (m._meta.db_table for m in (Profile, DataField, FieldValue))
    d, i = Dossier._meta.db_table, DossierItem._meta.db_table
    pending = ", ".join(["%s"] * len(Dossier.OPEN_STATUSES))
    now = timezone.now()
    adapt = connection.ops.adapt_datetimefield_value
    conditions = [
        "p.organization_id = %s",
        "p.archived_at IS NULL",
        "f.update_group_id IS NOT NULL",
        "f.archived_at IS NULL",
    ]
    params: list[Any] = [organization_id]
    if filters.group_id:
        conditions.append("f.update_group_id = %s")
        params.append(filters.group_id)
    if filters.kind:
        conditions.append("p.kind = %s")
        params.append(filters.kind)
    if filters.company_id:
        conditions.append("(p.company_id = %s OR p.id = %s)")
        params += [filters.company_id, filters.company_id]
    if filters.profile_ids:
        conditions.append(f"p.id IN ({', '.join(['%s'] * len(filters.profile_ids))})")
        params += list(filters.profile_ids)
    if filters.query:
        like = f"%{filters.query.lower()}%"
        conditions.append(
            "(LOWER(p.last_name) LIKE %s OR LOWER(p.first_name) LIKE %s OR LOWER(p.name) LIKE %s)"
        )
        params += [like, like, like]
    sql = f"""
        SELECT x.*,
            CASE
                WHEN x.open_dossier IS NOT NULL THEN 'requested'
                WHEN x.overdue_dossier IS NOT NULL THEN 'overdue'
                WHEN x.value_id IS NULL THEN 'missing'
                WHEN x.expires_on < %s THEN 'expired'
                WHEN x.expires_on <= %s THEN 'expiring'
                ELSE 'valid'
            END AS status
        FROM (
            SELECT p.id AS profile_id, p.uuid AS profile_uuid, p.kind AS kind,
                p.first_name AS first_name, p.last_name AS last_name, p.name AS company_name,
                f.id AS field_id, f.label AS field_label, f.position AS field_position,
                g.title AS group_title, v.id AS value_id, v.expires_on AS expires_on,
                pend.open_dossier AS open_dossier,
                CASE WHEN latest.status = %s AND (
                    v.last_evidenced_at IS NULL OR v.last_evidenced_at < latest.created_at
                ) THEN latest.ref END AS overdue_dossier
            FROM {p} p
            JOIN {f} f ON f.organization_id = p.organization_id AND f.applies_to = p.kind
            JOIN {UpdateGroup._meta.db_table} g ON g.id = f.update_group_id
            LEFT JOIN {v} v ON v.profile_id = p.id AND v.field_id = f.id
            -- Set-based, one pass over the organisation's requests each, joined by hash:
            -- the open request of each (profile, field), and the latest request of each.
            LEFT JOIN (
                SELECT d.profile_id, i.field_id, MAX(CAST(d.uuid AS TEXT)) AS open_dossier
                FROM {d} d JOIN {i} i ON i.dossier_id = d.id
                WHERE d.organization_id = %s
                    AND ((d.status IN ({pending}) AND d.expires_at > %s) OR d.status = %s)
                GROUP BY d.profile_id, i.field_id
            ) pend ON pend.profile_id = p.id AND pend.field_id = f.id
            LEFT JOIN (
                SELECT r.profile_id, r.field_id, r.ref, r.status, r.created_at FROM (
                    SELECT d.profile_id, i.field_id, CAST(d.uuid AS TEXT) AS ref, d.status,
                        d.created_at, ROW_NUMBER() OVER (
                            PARTITION BY d.profile_id, i.field_id
                            ORDER BY d.created_at DESC, d.id DESC
                        ) AS rn
                    FROM {d} d JOIN {i} i ON i.dossier_id = d.id
                    WHERE d.organization_id = %s
                ) r WHERE r.rn = 1
            ) latest ON latest.profile_id = p.id AND latest.field_id = f.id
            WHERE {" AND ".join(conditions)}
        ) x
    """  # noqa: S608 - names come from the models, values are parameters
    warning = today + dt.timedelta(days=EXPIRY_WARNING_DAYS)
    head = [
        connection.ops.adapt_datefield_value(today),
        connection.ops.adapt_datefield_value(warning),
    ]
    inner = [
        Dossier.Status.EXPIRED,
        organization_id,
        *Dossier.OPEN_STATUSES,
        adapt(now),
        Dossier.Status.TO_REVIEW,
        organization_id,
    ]
    return sql, [*head, *inner, *params]


def _filtered(organization_id: int, filters: Filters, today: dt.date) -> tuple[str, list[Any]]:
    sql, params = _cells(organization_id, filters, today)
    if filters.status in STATUSES:
        return f"SELECT * FROM ({sql}) c WHERE c.status = %s", [*params, filters.status]  # noqa: S608
    return f"SELECT * FROM ({sql}) c", params  # noqa: S608


def counts(organization_id: int, filters: Filters, today: dt.date) -> dict[str, int]:
    """How many cells of each status, for the filters but the status itself: one query."""
    sql, params = _cells(organization_id, Filters(**{**filters.__dict__, "status": ""}), today)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT c.status, COUNT(*) FROM ({sql}) c GROUP BY c.status", params)  # noqa: S608
        found = dict(cursor.fetchall())
    return {status: found.get(status, 0) for status in STATUSES}


COLUMNS = (
    "profile_id",
    "profile_uuid",
    "kind",
    "first_name",
    "last_name",
    "company_name",
    "field_id",
    "field_label",
    "field_position",
    "group_title",
    "value_id",
    "expires_on",
    "open_dossier",
    "overdue_dossier",
    "status",
)
ORDER = "ORDER BY c.last_name, c.company_name, c.first_name, c.profile_id, c.field_position"


def _row(values: tuple[Any, ...]) -> dict[str, Any]:
    row = dict(zip(COLUMNS, values, strict=True))
    # SQLite hands back text where PostgreSQL hands back dates and UUIDs.
    if isinstance(row["expires_on"], str):
        row["expires_on"] = dt.date.fromisoformat(row["expires_on"])
    for key in ("profile_uuid", "open_dossier", "overdue_dossier"):
        if row[key] is not None and not isinstance(row[key], str):
            row[key] = str(row[key])
        if isinstance(row[key], str) and len(row[key]) == 32:
            row[key] = (
                f"{row[key][:8]}-{row[key][8:12]}-{row[key][12:16]}-{row[key][16:20]}-{row[key][20:]}"
            )
    return row


def page(
    organization_id: int, filters: Filters, today: dt.date, *, offset: int, limit: int
) -> list[dict[str, Any]]:
    sql, params = _filtered(organization_id, filters, today)
    columns = ", ".join(f"c.{name}" for name in COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM ({sql}) c {ORDER} LIMIT %s OFFSET %s",  # noqa: S608
            [*params, limit, offset],
        )
        return [_row(values) for values in cursor.fetchall()]


def total(organization_id: int, filters: Filters, today: dt.date) -> int:
    sql, params = _filtered(organization_id, filters, today)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) c", params)  # noqa: S608
        return cursor.fetchone()[0]


def stream(
    organization_id: int, filters: Filters, today: dt.date, chunk: int = 2000
) -> Iterator[dict[str, Any]]:
    """Every filtered cell in order, read by a server-side cursor where there is one."""
    sql, params = _filtered(organization_id, filters, today)
    columns = ", ".join(f"c.{name}" for name in COLUMNS)
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM ({sql}) c {ORDER}", params)  # noqa: S608
        while rows := cursor.fetchmany(chunk):
            yield from (_row(values) for values in rows)


def needing_attention_sql(
    organization_id: int, kind: str, today: dt.date, profile_ids: tuple[int, ...] = ()
) -> tuple[str, list[Any]]:
    """The ids of profiles with a cell overdue, expired or missing (for the lists' filter)."""
    sql, params = _cells(organization_id, Filters(kind=kind, profile_ids=profile_ids), today)
    marks = ", ".join(["%s"] * len(ATTENTION))
    return (
        f"SELECT DISTINCT c.profile_id FROM ({sql}) c WHERE c.status IN ({marks})",  # noqa: S608
        [*params, *ATTENTION],
    )
