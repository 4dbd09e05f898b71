"""The compliance overview: every profile by monitored field, each cell one status.

Each (active profile, monitored field) has one stored row, `ComplianceCell`, holding what its
status is read from: whether a value exists and its expiry date, the request still running
for it and when that request lapses, and the latest request if it closed unanswered. A
profile outside the audience of the field's group has none: the group does not ask it, so
the field is not monitored for it (the matrix shows "not asked"), and it counts nowhere. Every
write that moves those facts calls `refresh` for the profiles or fields it touched, in its own
transaction; `rebuild` recomputes a whole organisation (after a migration, and nightly as a
safety net, counting what it had to correct). Reading is then narrow indexed rows with the
clock applied in SQL, whatever the number of requests behind them.

A cell's status, first match wins:
- requested: an open request asks for it (sent, opened, draft, changes requested, or
  answered and waiting for staff review) and staff have not approved its answer yet: an
  item approved in a dossier whose other items went back to the client is settled;
- overdue: the latest request for it closed unanswered and nothing fresh came since;
- missing: there is no value;
- expired: its expiry date has passed;
- expiring: it expires within 30 days;
- valid: otherwise.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import json
import logging
import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from types import EllipsisType
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from dossiers import signals as dossier_signals
from dossiers.models import Dossier, DossierItem, ItemReview
from monitoring.models import ComplianceCell, GroupField, OverviewState, UpdateGroup
from monitoring.selectors import audiences_sql
from organizations.csvexport import WHITESPACE, copied_lines, csv_lines, neutralise, neutralise_sql
from profiles.models import EXPIRY_WARNING_DAYS, DataField, FieldValue, Kind, Profile
from profiles.selectors import active_sql, archived_sql

logger = logging.getLogger(__name__)

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


# Maintaining the cells ---------------------------------------------------------------------


def _scope(
    organization_id: int,
    profile_ids: tuple[int, ...] | None,
    field_ids: tuple[int, ...] | None,
    columns: tuple[str, str, str] = ("organization_id", "profile_id", "field_id"),
) -> tuple[str, list[Any]]:
    """Which cells a refresh recomputes: the organisation's, or some profiles' or fields'."""
    organization, profile, field = columns
    parts, params = [f"{organization} = %s"], [organization_id]
    for column, ids in ((profile, profile_ids), (field, field_ids)):
        if ids is not None:
            parts.append(f"{column} IN ({', '.join(['%s'] * len(ids))})")
            params += list(ids)
    return " AND ".join(parts), params


Audiences = list[tuple[int, str, list[Any]]]


def _asked(audiences: Audiences) -> tuple[str, list[Any]]:
    """A cell exists only where the field's group asks the profile (`p`): a profile its
    audience leaves out is not monitored by it, so never missing or overdue for it."""
    if not audiences:
        return "1 = 1", []
    marks = ", ".join(["%s"] * len(audiences))
    parts, params = [f"gf.group_id NOT IN ({marks})"], [pk for pk, _, _ in audiences]
    for pk, sql, sql_params in audiences:
        parts.append(f"(gf.group_id = %s AND {sql})")
        params += [pk, *sql_params]
    return f"({' OR '.join(parts)})", params


def _computed(
    organization_id: int,
    profile_ids: tuple[int, ...] | None,
    field_ids: tuple[int, ...] | None,
    audiences: Audiences,
) -> tuple[str, list[Any]]:
    """The SELECT of every cell of the scope, computed from values and requests."""
    p, f, v = (m._meta.db_table for m in (Profile, DataField, FieldValue))
    d, i = Dossier._meta.db_table, DossierItem._meta.db_table
    gf = GroupField._meta.db_table
    cells, params = _scope(
        organization_id, profile_ids, field_ids, ("p.organization_id", "p.id", "f.id")
    )
    # The same scope on the requests, so that refreshing a profile reads its requests only.
    requests, request_params = _scope(
        organization_id, profile_ids, field_ids, ("d.organization_id", "d.profile_id", "i.field_id")
    )
    pending = ", ".join(["%s"] * len(Dossier.PENDING_STATUSES))
    asked, asked_params = _asked(audiences)
    sql = f"""
        SELECT p.organization_id, p.id, f.id, gf.group_id, p.kind,
            COALESCE(p.company_id, CASE WHEN p.kind = %s THEN p.id END),
            CASE WHEN v.id IS NULL THEN %s ELSE %s END, v.expires_on,
            pend.uuid, CASE WHEN pend.reviewing = 1 THEN NULL ELSE pend.until END,
            CASE WHEN latest.status = %s AND (
                v.last_evidenced_at IS NULL OR v.last_evidenced_at < latest.created_at
            ) THEN latest.uuid END
        FROM {p} p
        JOIN {f} f ON f.organization_id = p.organization_id AND f.applies_to = p.kind
        JOIN {gf} gf ON gf.field_id = f.id
        LEFT JOIN {v} v ON v.profile_id = p.id AND v.field_id = f.id
        -- Set-based, one pass over the scope's requests each: the requests still running
        -- for each (profile, field) (one awaiting review runs until staff decide, the
        -- others until the latest of them lapses; an item already approved runs no more),
        -- and the latest request of each.
        LEFT JOIN (
            SELECT r.profile_id, r.field_id, r.uuid, r.reviewing, r.until FROM (
                SELECT d.profile_id, i.field_id, d.uuid,
                    MAX(CASE WHEN d.status = %s THEN 1 ELSE 0 END) OVER w AS reviewing,
                    MAX(d.expires_at) OVER w AS until,
                    ROW_NUMBER() OVER (
                        PARTITION BY d.profile_id, i.field_id
                        ORDER BY CASE WHEN d.status = %s THEN 0 ELSE 1 END,
                            d.expires_at DESC, d.id DESC
                    ) AS rn
                FROM {d} d JOIN {i} i ON i.dossier_id = d.id
                WHERE {requests} AND d.status IN ({pending}) AND i.review <> %s
                WINDOW w AS (PARTITION BY d.profile_id, i.field_id)
            ) r WHERE r.rn = 1
        ) pend ON pend.profile_id = p.id AND pend.field_id = f.id
        LEFT JOIN (
            SELECT r.profile_id, r.field_id, r.uuid, r.status, r.created_at FROM (
                SELECT d.profile_id, i.field_id, d.uuid, d.status, d.created_at,
                    ROW_NUMBER() OVER (
                        PARTITION BY d.profile_id, i.field_id
                        ORDER BY d.created_at DESC, d.id DESC
                    ) AS rn
                FROM {d} d JOIN {i} i ON i.dossier_id = d.id
                WHERE {requests}
            ) r WHERE r.rn = 1
        ) latest ON latest.profile_id = p.id AND latest.field_id = f.id
        WHERE {cells} AND {active_sql("p")}
            AND {active_sql("f")} AND {asked}
    """  # noqa: S608 - names come from the models, values are parameters
    return sql, [
        Kind.COMPANY,
        False,
        True,
        Dossier.Status.EXPIRED,
        Dossier.Status.TO_REVIEW,
        Dossier.Status.TO_REVIEW,
        *request_params,
        *Dossier.PENDING_STATUSES,
        ItemReview.APPROVED,
        *request_params,
        *params,
        *asked_params,
    ]


CELL_COLUMNS = (
    "organization_id",
    "profile_id",
    "field_id",
    "group_id",
    "kind",
    "company_key",
    "has_value",
    "expires_on",
    "requested_dossier",
    "requested_until",
    "overdue_dossier",
)


def refresh(
    organization_id: int,
    *,
    profile_ids: Iterable[int] | None = None,
    field_ids: Iterable[int] | None = None,
) -> None:
    """Recompute the cells of some profiles, some fields, or (neither given) an organisation.

    Called inside the transaction of the write that moved a status, so the cells commit or
    roll back with it. An upsert rather than a delete and an insert: two writers refreshing
    the same profile at once both succeed, the later one's view winning.
    """
    profiles = None if profile_ids is None else tuple(sorted(set(profile_ids)))
    fields = None if field_ids is None else tuple(sorted(set(field_ids)))
    if profiles == () or fields == ():
        return
    table = ComplianceCell._meta.db_table
    p, f = Profile._meta.db_table, DataField._meta.db_table
    gf = GroupField._meta.db_table
    audiences = audiences_sql(organization_id, "p")
    sql, params = _computed(organization_id, profiles, fields, audiences)
    columns = ", ".join(CELL_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in CELL_COLUMNS[3:])
    scope, scope_params = _scope(organization_id, profiles, fields)
    with connection.cursor() as cursor:
        # Only the cells that changed reach the upsert (EXCEPT the stored ones): an unchanged
        # cell is neither locked nor written again. `WHERE 1 = 1` keeps SQLite from reading
        # ON CONFLICT as part of the SELECT.
        cursor.execute(
            f"""INSERT INTO {table} ({columns})
            SELECT * FROM ({sql} EXCEPT SELECT {columns} FROM {table} WHERE {scope}) c
            WHERE 1 = 1
            ON CONFLICT (profile_id, field_id) DO UPDATE SET {updates}""",  # noqa: S608
            [*params, *scope_params],
        )
        # Cells whose profile was archived, whose field stopped being monitored, or whose
        # profile left the audience of the field's group. The first two sets are read
        # within the scope, so a profile's refresh never reads its organisation's other
        # profiles.
        archived, archived_params = _scope(
            organization_id, profiles, None, ("organization_id", "id", "")
        )
        dropped, dropped_params = _scope(
            organization_id, None, fields, ("organization_id", "", "id")
        )
        left, left_params = "", []
        for pk, asked, asked_params in audiences:
            left += f"""
                OR (field_id IN (SELECT gf.field_id FROM {gf} gf WHERE gf.group_id = %s)
                    AND NOT EXISTS (
                        SELECT 1 FROM {p} p WHERE p.id = {table}.profile_id AND {asked}
                    ))"""  # noqa: S608
            left_params += [pk, *asked_params]
        cursor.execute(
            f"""DELETE FROM {table} WHERE {scope} AND (
                profile_id IN (SELECT id FROM {p} WHERE {archived} AND {archived_sql()})
                OR field_id IN (
                    SELECT id FROM {f} WHERE {dropped}
                        AND ({archived_sql()}
                            OR NOT EXISTS (SELECT 1 FROM {gf} WHERE {gf}.field_id = {f}.id))
                ){left}
            )""",  # noqa: S608
            [*scope_params, *archived_params, *dropped_params, *left_params],
        )
    transaction.on_commit(partial(_moved, organization_id))


def _moved(organization_id: int) -> None:
    """After a refresh commits: a new version, so that no cached count outlives it.

    A random version, not a counter: a version never comes back, so no count cached under
    an old one can be read again, whatever rolled back in between.
    """
    version = secrets.randbits(62)
    # One UPDATE, where update_or_create locked the row with a SELECT first: a submission
    # renews it after each of its refreshes.
    if OverviewState.objects.filter(organization_id=organization_id).update(version=version):
        return
    # Another writer creating it at the same moment leaves a version as new as ours.
    with contextlib.suppress(IntegrityError), transaction.atomic():
        OverviewState.objects.create(organization_id=organization_id, version=version)


def drift(organization_id: int) -> int:
    """How many stored cells differ from a fresh computation (missing, extra or changed)."""
    table = ComplianceCell._meta.db_table
    sql, params = _computed(organization_id, None, None, audiences_sql(organization_id, "p"))
    columns = ", ".join(CELL_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT COUNT(*) FROM (
                SELECT * FROM ({sql}) fresh
                EXCEPT SELECT {columns} FROM {table} WHERE organization_id = %s
            ) a""",  # noqa: S608
            [*params, organization_id],
        )
        missing = cursor.fetchone()[0]
        cursor.execute(
            f"""SELECT COUNT(*) FROM (
                SELECT {columns} FROM {table} WHERE organization_id = %s
                EXCEPT SELECT * FROM ({sql}) fresh
            ) a""",  # noqa: S608
            [organization_id, *params],
        )
        return int(missing + cursor.fetchone()[0])


def rebuild(organization_id: int) -> int:
    """Recompute an organisation's cells; returns how many were wrong before."""
    wrong = drift(organization_id)
    if wrong:
        refresh(organization_id)
        logger.warning(
            "compliance overview: %s cells of organisation %s were stale, recomputed",
            wrong,
            organization_id,
        )
    return wrong


# Reading the cells -------------------------------------------------------------------------


def _status(now: Any, today: dt.date) -> tuple[str, list[Any]]:
    """A stored cell's status now: what depends on the clock is compared here."""
    day = connection.ops.adapt_datefield_value
    warning = today + dt.timedelta(days=EXPIRY_WARNING_DAYS)
    sql = """CASE
            WHEN c.requested_dossier IS NOT NULL
                AND (c.requested_until IS NULL OR c.requested_until > %s) THEN 'requested'
            WHEN c.overdue_dossier IS NOT NULL THEN 'overdue'
            WHEN NOT c.has_value THEN 'missing'
            WHEN c.expires_on < %s THEN 'expired'
            WHEN c.expires_on <= %s THEN 'expiring'
            ELSE 'valid'
        END"""
    return sql, [now, day(today), day(warning)]


def _where(organization_id: int, filters: Filters) -> tuple[str, list[Any]]:
    conditions = ["c.organization_id = %s"]
    params: list[Any] = [organization_id]
    if filters.group_id:
        conditions.append("c.group_id = %s")
        params.append(filters.group_id)
    if filters.kind:
        conditions.append("c.kind = %s")
        params.append(filters.kind)
    if filters.company_id:
        conditions.append("c.company_key = %s")
        params.append(filters.company_id)
    if filters.profile_ids:
        conditions.append(f"c.profile_id IN ({', '.join(['%s'] * len(filters.profile_ids))})")
        params += list(filters.profile_ids)
    if filters.query:
        like = f"%{filters.query.lower()}%"
        conditions.append(
            "(LOWER(p.last_name) LIKE %s OR LOWER(p.first_name) LIKE %s OR LOWER(p.name) LIKE %s)"
        )
        params += [like, like, like]
    return " AND ".join(conditions), params


def _now() -> Any:
    return connection.ops.adapt_datetimefield_value(timezone.now())


def _cells(organization_id: int, filters: Filters, today: dt.date) -> tuple[str, list[Any]]:
    """The stored cells with their names and their status now; the callers wrap it."""
    p, f = Profile._meta.db_table, DataField._meta.db_table
    g, c = UpdateGroup._meta.db_table, ComplianceCell._meta.db_table
    now = _now()
    status, status_params = _status(now, today)
    where, params = _where(organization_id, filters)
    # The profiles' organisation too, so that their index in the page's order can lead.
    where += " AND p.organization_id = %s"
    params.append(organization_id)
    sql = f"""
        SELECT c.profile_id, p.uuid AS profile_uuid, c.kind, p.first_name, p.last_name,
            p.name AS company_name, c.field_id, f.label AS field_label,
            f.position AS field_position, g.title AS group_title, c.expires_on,
            CASE WHEN c.requested_dossier IS NOT NULL
                AND (c.requested_until IS NULL OR c.requested_until > %s)
                THEN c.requested_dossier END AS open_dossier,
            c.overdue_dossier, {status} AS status
        FROM {c} c
        JOIN {p} p ON p.id = c.profile_id
        JOIN {f} f ON f.id = c.field_id
        JOIN {g} g ON g.id = c.group_id
        WHERE {where}
    """  # noqa: S608 - names come from the models, values are parameters
    return sql, [now, *status_params, *params]


def _filtered(organization_id: int, filters: Filters, today: dt.date) -> tuple[str, list[Any]]:
    sql, params = _cells(organization_id, filters, today)
    if filters.status in STATUSES:
        return f"SELECT * FROM ({sql}) c WHERE c.status = %s", [*params, filters.status]  # noqa: S608
    return f"SELECT * FROM ({sql}) c", params  # noqa: S608


# How long counts may be served from the cache: a write is seen at once (it changes the
# version), the clock (a request lapsing) within this.
COUNTS_SECONDS = 60


def counts(
    organization_id: int, filters: Filters, today: dt.date, *, version: int | None = None
) -> dict[str, int]:
    """How many cells of each status, for the filters but the status itself.

    Counting reads every cell of the organisation; at 100,000 profiles by 10 fields that is
    a large part of a second, so the counts are cached under the organisation's version (one
    small query, spared when the caller read it already: `version`) until the next write, or
    a minute for the clock.
    """
    if version is None:
        version = current_version(organization_id)
    if version is None:  # no write has committed yet: nothing to key a cache on
        return _count(organization_id, filters, today)
    shown = {**filters.__dict__, "status": ""}
    digest = hashlib.sha256(repr(sorted(shown.items())).encode()).hexdigest()[:16]
    key = f"overview-counts:{organization_id}:{version}:{today.isoformat()}:{digest}"
    found = cache.get(key)
    if found is None:
        found = _count(organization_id, filters, today)
        cache.set(key, found, COUNTS_SECONDS)
    return found


def current_version(organization_id: int) -> int | None:
    """The version the organisation's counts are cached under; None before a first write
    commits."""
    return (
        OverviewState.objects.filter(organization_id=organization_id)
        .values_list("version", flat=True)
        .first()
    )


# The name under which each membership of the request carries its organisation's version.
MEMBERSHIP_VERSION = "overview_version"
# The version was not read with the request (no membership): the caller reads it.
UNREAD: EllipsisType = ...


def read_with_memberships() -> None:
    """The home and the overview count under this version: it comes with the memberships
    the tenancy middleware reads (organizations.middleware), not in a query of its own, as
    the dossiers' version does (dossiers.versions)."""
    from organizations.middleware import MEMBERSHIP_ANNOTATIONS

    MEMBERSHIP_ANNOTATIONS[MEMBERSHIP_VERSION] = Subquery(
        OverviewState.objects.filter(organization_id=OuterRef("organization_id")).values("version")[
            :1
        ]
    )


def of_request(request: Any) -> int | EllipsisType | None:
    """The version read with the request's membership: None if the organisation has none
    yet, UNREAD if the request has no membership."""
    from organizations.middleware import membership_value

    version: int | EllipsisType | None = membership_value(request, MEMBERSHIP_VERSION)
    return version


def _count(organization_id: int, filters: Filters, today: dt.date) -> dict[str, int]:
    """It reads the cells alone, joining the profiles only to search their names."""
    p, c = Profile._meta.db_table, ComplianceCell._meta.db_table
    status, status_params = _status(_now(), today)
    where, params = _where(organization_id, Filters(**{**filters.__dict__, "status": ""}))
    join = f"JOIN {p} p ON p.id = c.profile_id" if filters.query else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.status, COUNT(*) FROM (SELECT {status} AS status FROM {c} c {join}"  # noqa: S608
            f" WHERE {where}) s GROUP BY s.status",
            [*status_params, *params],
        )
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
        row[key] = _row_uuid(row[key])
    return row


def _row_uuid(value: Any) -> str | None:
    """A UUID as text with its dashes, as SQLite (32 hex digits) or PostgreSQL give it."""
    if value is not None and not isinstance(value, str):
        value = str(value)
    if isinstance(value, str) and len(value) == 32:
        value = f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return value


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


PROFILE_COLUMNS = ("profile_id", "profile_uuid", "kind", "first_name", "last_name", "company_name")


def profiles_page(
    organization_id: int, filters: Filters, today: dt.date, *, offset: int, limit: int
) -> list[dict[str, Any]]:
    """The matrix's rows: the profiles with at least one cell matching the filters, in the
    list's order, one query whatever the page size."""
    sql, params = _filtered(organization_id, filters, today)
    columns = ", ".join(f"c.{name}" for name in PROFILE_COLUMNS)
    order = "ORDER BY c.last_name, c.company_name, c.first_name, c.profile_id"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns} FROM ({sql}) c GROUP BY {columns} {order} LIMIT %s OFFSET %s",  # noqa: S608
            [*params, limit, offset],
        )
        rows = [dict(zip(PROFILE_COLUMNS, values, strict=True)) for values in cursor.fetchall()]
    for row in rows:
        row["profile_uuid"] = _row_uuid(row["profile_uuid"])
    return rows


def profiles_total(organization_id: int, filters: Filters, today: dt.date) -> int:
    """How many profiles the matrix has for the filters, read from the cells."""
    sql, params = _filtered(organization_id, filters, today)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(DISTINCT c.profile_id) FROM ({sql}) c", params)  # noqa: S608
        return int(cursor.fetchone()[0])


def total(organization_id: int, filters: Filters, today: dt.date) -> int:
    if filters.status in STATUSES:
        return counts(organization_id, filters, today)[filters.status]
    return sum(counts(organization_id, filters, today).values())


EXPORT_COLUMNS = (
    "company_name",
    "first_name",
    "last_name",
    "kind",
    "field_id",
    "field_label",
    "group_title",
    "status",
    "expires_on",
)


def export_rows(
    organization_id: int, filters: Filters, today: dt.date, chunk: int = 2000
) -> Iterator[tuple[Any, ...]]:
    """Every filtered cell in order as a plain tuple of `EXPORT_COLUMNS`, read by a
    server-side cursor where there is one: what a CSV of a million cells needs, no more."""
    sql, params = _filtered(organization_id, filters, today)
    columns = ", ".join(f"c.{name}" for name in EXPORT_COLUMNS)
    with connection.chunked_cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM ({sql}) c {ORDER}", params)  # noqa: S608
        while rows := cursor.fetchmany(chunk):
            yield from rows


@dataclass(frozen=True)
class ExportWords:
    """What the export writes for the codes its cells hold, in the reader's language."""

    header: Sequence[str]
    kinds: dict[str, str]
    # By field id: the monitored fields' labels (the SQL knows only the default language's).
    fields: dict[int, str]
    # By the group's title in the default language.
    titles: dict[str, str]
    statuses: dict[str, str]


def export_csv(
    organization_id: int, filters: Filters, today: dt.date, words: ExportWords
) -> Iterator[str | bytes]:
    """Every filtered cell in order as CSV lines, after a byte-order mark and the header:
    on PostgreSQL written by the database itself (`COPY`, several times as fast for a
    million cells), elsewhere by `csv.writer` from `export_rows`."""
    if connection.vendor == "postgresql":
        return _csv_by_copy(organization_id, filters, today, words)
    return _csv_by_python(organization_id, filters, today, words)


def _csv_by_python(
    organization_id: int, filters: Filters, today: dt.date, words: ExportWords
) -> Iterator[str]:
    body = (
        [
            company or f"{first} {last}".strip(),
            words.kinds.get(kind, kind),
            words.fields.get(field_id, label),
            words.titles.get(title, title),
            words.statuses[status],
            expires_on or "",
        ]
        for company, first, last, kind, field_id, label, title, status, expires_on in export_rows(
            organization_id, filters, today
        )
    )
    return csv_lines(itertools.chain([list(words.header)], body))


def _csv_by_copy(
    organization_id: int, filters: Filters, today: dt.date, words: ExportWords
) -> Iterator[bytes]:
    """`_csv_by_python`'s lines, which the database writes: each code looked up in the
    words (neutralised here once rather than on every line), the rest neutralised in SQL."""

    def lookup(table: dict[Any, str]) -> str:
        return json.dumps({str(code): neutralise(word) for code, word in table.items()})

    sql, params = _filtered(organization_id, filters, today)
    name, name_params = neutralise_sql("c.name")
    kind, kind_params = neutralise_sql("c.kind")
    label, label_params = neutralise_sql("c.field_label")
    title, title_params = neutralise_sql("c.group_title")
    query = f"""
        SELECT NULLIF({name}, ''),
            NULLIF(COALESCE(%s::jsonb ->> c.kind, {kind}), ''),
            NULLIF(COALESCE(%s::jsonb ->> c.field_id::text, {label}), ''),
            NULLIF(COALESCE(%s::jsonb ->> c.group_title, {title}), ''),
            %s::jsonb ->> c.status,
            to_char(c.expires_on, 'YYYY-MM-DD')
        FROM (
            SELECT c.*, COALESCE(
                NULLIF(c.company_name, ''), btrim(c.first_name || ' ' || c.last_name, %s)
            ) AS name
            FROM ({sql}) c
        ) c
        {ORDER}
    """  # noqa: S608 - names come from the models, values are parameters
    return copied_lines(
        query,
        [
            *name_params,
            lookup(words.kinds),
            *kind_params,
            lookup(words.fields),
            *label_params,
            lookup(words.titles),
            *title_params,
            lookup(words.statuses),
            WHITESPACE,
            *params,
        ],
        words.header,
    )


def needing_attention_sql(
    organization_id: int, kind: str, today: dt.date, profile_ids: tuple[int, ...] = ()
) -> tuple[str, list[Any]]:
    """The ids of profiles with a cell overdue, expired or missing (for the lists' filter)."""
    c = ComplianceCell._meta.db_table
    status, status_params = _status(_now(), today)
    where, params = _where(organization_id, Filters(kind=kind, profile_ids=profile_ids))
    marks = ", ".join(["%s"] * len(ATTENTION))
    return (
        f"SELECT DISTINCT c.profile_id FROM {c} c WHERE {where} AND {status} IN ({marks})",  # noqa: S608
        [*params, *status_params, *ATTENTION],
    )


# Keeping the cells current -----------------------------------------------------------------


def _profile_saved(instance: Profile, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        refresh(instance.organization_id, profile_ids=[instance.pk])


def _field_saved(instance: DataField, raw: bool = False, **kwargs: Any) -> None:
    """A field's cells follow whether it is monitored, and by which group.

    Most saves (a label, a position) change neither: one look at its group and a cell tells
    (one query), so only a field that is archived or restored while monitored has its cells
    recomputed over every profile. Joining or leaving a group refreshes in `save_group`.
    """
    if raw:
        return
    group_id, held = (
        DataField._base_manager.filter(pk=instance.pk)
        .values_list(
            Subquery(GroupField._base_manager.filter(field_id=OuterRef("pk")).values("group_id")),
            Subquery(ComplianceCell.objects.filter(field_id=OuterRef("pk")).values("group_id")[:1]),
        )
        .get()
    )
    monitored = group_id is not None and instance.archived_at is None
    if monitored and held == group_id:
        return
    if not monitored and held is None:
        return
    refresh(instance.organization_id, field_ids=[instance.pk])


def _value_saved(instance: FieldValue, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        refresh(instance.organization_id, profile_ids=[instance.profile_id])


def _refresh_profiles(organization_id: int, profile_ids: Iterable[int]) -> None:
    """`refresh` of these profiles, once at the end of a write that says several things of
    them (a submission: values written back, then the dossier submitted)."""
    if not dossier_signals.fold(
        ("overview", organization_id),
        profile_ids,
        partial(_refresh_gathered, organization_id),
    ):
        refresh(organization_id, profile_ids=profile_ids)


def _refresh_gathered(organization_id: int, profile_ids: set[int]) -> None:
    refresh(organization_id, profile_ids=profile_ids)


def _values_changed(profile: Profile, **kwargs: Any) -> None:
    _refresh_profiles(profile.organization_id, [profile.pk])


def _values_imported(organization_id: int, profiles: list[Profile], **kwargs: Any) -> None:
    refresh(organization_id, profile_ids=[profile.pk for profile in profiles])


def _dossier_moved(dossier: Dossier, **kwargs: Any) -> None:
    if dossier.profile_id is not None:
        _refresh_profiles(dossier.organization_id, [dossier.profile_id])


def _requests_changed(
    organization_id: int,
    profile_ids: Iterable[int],
    opened: list[int] | None = None,
    **kwargs: Any,
) -> None:
    if opened is not None and connection.vendor == "postgresql":
        requests_opened(organization_id, opened, list(profile_ids))
    else:
        refresh(organization_id, profile_ids=profile_ids)


def requests_opened(organization_id: int, dossier_ids: list[int], profile_ids: list[int]) -> None:
    """The cells that dossiers just opened ask for: one UPDATE rather than a recomputation.

    A new request is pending and the latest for each field it asks, so its cells are
    requested — the link kept to a request still running that ends later or awaits staff —
    until the later lapse, and no longer overdue. What the fan-out pays per page instead of
    recomputing its profiles' cells (docs/PERFORMANCE.md).
    """
    if not dossier_ids:
        return
    c = ComplianceCell._meta.db_table
    d, i = Dossier._meta.db_table, DossierItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH n AS MATERIALIZED (
                SELECT d.profile_id, i.field_id, d.uuid, d.expires_at
                FROM {d} d JOIN {i} i ON i.dossier_id = d.id
                WHERE d.id = ANY(%s) AND i.dossier_id = ANY(%s)
            )
            UPDATE {c} c SET
                overdue_dossier = NULL,
                requested_dossier = CASE
                    WHEN c.requested_dossier IS NOT NULL
                        AND (c.requested_until IS NULL OR c.requested_until > n.expires_at)
                    THEN c.requested_dossier ELSE n.uuid END,
                requested_until = CASE
                    WHEN c.requested_dossier IS NOT NULL AND c.requested_until IS NULL
                    THEN NULL ELSE GREATEST(c.requested_until, n.expires_at) END
            FROM n
            -- The page's items are gathered first (MATERIALIZED), each side bounded to the
            -- page by its own array: without statistics, or with those of tables just
            -- emptied, the planner otherwise reads every item of a field for each cell, or
            -- joins every cell of the organisation with every item.
            WHERE c.profile_id = n.profile_id AND c.field_id = n.field_id
                AND c.organization_id = %s AND c.profile_id = ANY(%s)""",  # noqa: S608
            [list(dossier_ids), list(dossier_ids), organization_id, list(profile_ids)],
        )
    transaction.on_commit(partial(_moved, organization_id))


def connect() -> None:
    """Wires every write that moves a status to `refresh` (from the AppConfig)."""
    from django.db.models.signals import post_save

    from dossiers import signals as dossier_signals
    from profiles import signals as profile_signals

    post_save.connect(_profile_saved, sender=Profile, dispatch_uid="overview-profile")
    post_save.connect(_field_saved, sender=DataField, dispatch_uid="overview-field")
    # Saves only: the product deletes values through `apply_values` (which says so) or with
    # their profile, and a receiver on deletion would both slow bulk deletes (no fast path)
    # and write cells for a profile in the middle of being deleted.
    post_save.connect(_value_saved, sender=FieldValue, dispatch_uid="overview-value")
    profile_signals.values_changed.connect(_values_changed, dispatch_uid="overview-values")
    profile_signals.values_imported.connect(_values_imported, dispatch_uid="overview-imported")
    for signal in (dossier_signals.dossier_submitted, dossier_signals.dossier_approved):
        signal.connect(_dossier_moved, dispatch_uid="overview-dossier")
    dossier_signals.requests_changed.connect(_requests_changed, dispatch_uid="overview-requests")
