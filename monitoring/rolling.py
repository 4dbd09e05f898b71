"""Rolling and tiered cadences: one schedule row per (group, profile), and their dispatcher.

A profile of a rolling group is due one interval after the latest of: its last fresh
evidence for the group's fields (an answer or a "still correct"), the day it was last asked,
and the moment it entered the group. A tiered group reads the interval from the value of one
choice field of the profile (its tier), the group's own interval standing for a profile
without one. The due moment is RUN_TIME on the local due day, as for calendar groups, and
that day is the period of the request: one dossier per (group, day, profile) still holds.

`refresh` recomputes the rows of some profiles (or groups, or a whole organisation) inside
the transaction of the write that moved them, as `overview.refresh` keeps the overview's
cells: on PostgreSQL a page of profiles in one statement for all the groups, due days and
moments computed by the database (`_refresh_in_database`), elsewhere in Python
(`_refresh_page`); an import's batch of a thousand tier changes costs what one does.
`rebuild` is the nightly check that mends and logs any drift. `dispatch_due` claims
due rows with SKIP LOCKED in batches, records one UpdateRun per (group, day) and moves each
row to its next due day; the run's task opens the dossiers of the profiles it asked
(`profiles_asked`). A row overdue by several intervals (the dispatcher down a week) is
asked once, for its latest missed day.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef
from django.utils import timezone
from django.utils.translation import gettext
from django_scopes import scopes_disabled

from monitoring import schedule
from monitoring.dispatch import enqueue_runs, record_runs, zones_known_to_database
from monitoring.models import (
    PER_PROFILE,
    Cadence,
    GroupField,
    ProfileSchedule,
    UpdateGroup,
    UpdateRun,
    frequency_in_words,
)
from monitoring.selectors import compiled, group_audience, schedules_due_q
from organizations.display import day
from organizations.models import Organization
from profiles.models import FieldType, FieldValue, Profile

logger = logging.getLogger(__name__)

# Rows claimed by one statement of a pass, and profiles recomputed at once by a rebuild.
CLAIM_BATCH = 1000
PAGE = 2000
# The largest interval a tier may set, in months (a century, as a group's horizon).
MAX_TIER_MONTHS = 1200

_COMPUTED = ("evidenced_at", "tier", "due_on", "next_due")


def cadence_problems(group: UpdateGroup) -> dict[str, list[str]]:
    """Why the group's cadence and tiers cannot be saved, by the field each concerns."""
    if group.cadence not in Cadence.values:
        return {"cadence": [gettext("Choose calendar, rolling or tiered.")]}
    if group.cadence != Cadence.TIERED:
        return {}
    field = group.tier_field
    if field is None:
        return {"tier_field": [gettext("Choose the list field whose value sets the interval.")]}
    if (
        field.organization_id != group.organization_id
        or field.type != FieldType.CHOICE
        or field.archived_at is not None
    ):
        return {"tier_field": [gettext("The tier field must be a list field (a choice).")]}
    if field.applies_to != group.applies_to:
        return {"tier_field": [gettext("The tier field must be of the group's type.")]}
    problems: list[str] = []
    tiers = group.tiers if isinstance(group.tiers, list) else None
    if not tiers:
        problems.append(gettext("Give at least one tier: a choice and its interval."))
    seen: set[str] = set()
    for entry in tiers or []:
        value = entry.get("value") if isinstance(entry, dict) else None
        months = entry.get("months") if isinstance(entry, dict) else None
        if not isinstance(value, str) or value not in field.choices:
            problems.append(
                gettext("“%(value)s” is not a choice of the field “%(field)s”.")
                % {"value": value, "field": field.local_label}
            )
        elif value in seen:
            problems.append(
                gettext("“%(value)s” is given twice: tiers may not overlap.") % {"value": value}
            )
        else:
            seen.add(value)
        if isinstance(months, bool) or not isinstance(months, int):
            problems.append(gettext("Each tier's interval is a whole number of months."))
        elif not 1 <= months <= MAX_TIER_MONTHS:
            problems.append(
                gettext("Each tier's interval is from 1 to %(max)d months, never zero.")
                % {"max": MAX_TIER_MONTHS}
            )
    return {"tiers": problems} if problems else {}


def interval_of(group: UpdateGroup, tier: str) -> tuple[int, str]:
    """The interval a profile on `tier` is asked at: its tier's, or the group's own."""
    if group.cadence == Cadence.TIERED and tier:
        for entry in group.tiers:
            if entry.get("value") == tier:
                return int(entry["months"]), "months"
    return group.interval_count, group.interval_unit


def due_day(
    tz: ZoneInfo,
    count: int,
    unit: str,
    *,
    joined_at: dt.datetime,
    evidenced_at: dt.datetime | None,
    asked_on: dt.date | None,
) -> dt.date:
    """One interval after the latest of entering, evidence and the last request (local days)."""
    return schedule.occurrence(basis(tz, joined_at, evidenced_at, asked_on), count, unit, 1)


def basis(
    tz: ZoneInfo, joined_at: dt.datetime, evidenced_at: dt.datetime | None, asked_on: dt.date | None
) -> dt.date:
    days = [joined_at.astimezone(tz).date()]
    if evidenced_at is not None:
        days.append(evidenced_at.astimezone(tz).date())
    if asked_on is not None:
        days.append(asked_on)
    return max(days)


@dataclass(frozen=True)
class Moved:
    """A row whose due day moved because its tier changed: the profile's history says so."""

    group: UpdateGroup
    profile_id: int
    tier_before: str
    tier_after: str
    due_before: dt.date
    due_after: dt.date


def refresh(
    organization_id: int,
    *,
    profile_ids: Iterable[int] | None = None,
    group_ids: Iterable[int] | None = None,
    now: dt.datetime | None = None,
) -> list[Moved]:
    """Brings the schedule rows of some profiles, some groups, or a whole organisation in
    line with the profiles' evidence and tiers; returns the rows a tier change moved.

    Called inside the transaction of the write that moved them, so the rows commit or roll
    back with it. Rows of profiles no longer asked (archived) go; a calendar group has none.
    """
    profiles = None if profile_ids is None else sorted(set(profile_ids))
    if profiles == []:
        return []
    now = now or timezone.now()
    with scopes_disabled():
        groups = UpdateGroup.objects.filter(organization_id=organization_id)
        if group_ids is not None:
            group_ids = list(group_ids)
            groups = groups.filter(pk__in=group_ids)
        per_profile = list(groups.filter(cadence__in=PER_PROFILE).select_related("organization"))
        if group_ids is not None:
            # A group made calendar (or deleted) keeps no rows; a profile's refresh leaves
            # that to the group's.
            ProfileSchedule.objects.filter(
                organization_id=organization_id, group_id__in=list(group_ids)
            ).exclude(group_id__in=[g.pk for g in per_profile]).delete()
        moved: list[Moved] = []
        if profiles is not None and per_profile and in_database(per_profile[0].organization):
            for start in range(0, len(profiles), PAGE):
                moved += _refresh_in_database(per_profile, profiles[start : start + PAGE], now)[1]
            return moved
        for group in per_profile:
            moved += _refresh_group(group, profiles, now)[1]
    return moved


def _refresh_group(
    group: UpdateGroup, profile_ids: list[int] | None, now: dt.datetime
) -> tuple[int, list[Moved]]:
    """Recomputes the group's rows of `profile_ids` (None: all, page by page); returns how
    many rows were missing, extra or different, and the moves of a tier change."""
    wrong, moved = 0, []
    pages: Iterator[list[int]] = iter([profile_ids]) if profile_ids is not None else _pages(group)
    sql = in_database(group.organization)
    for page in pages:
        page_wrong, page_moved = (
            _refresh_in_database([group], page, now) if sql else _refresh_page(group, page, now)
        )
        wrong += page_wrong
        moved += page_moved
    if profile_ids is None:
        # Rows of profiles the pages did not reach: archived, or of another type now.
        extra = ProfileSchedule.objects.filter(group=group).exclude(
            profile_id__in=group_audience(group).values("id")
        )
        wrong += extra.delete()[0]
    return wrong, moved


def _pages(group: UpdateGroup) -> Iterator[list[int]]:
    """The ids of the profiles the group asks, in keyset pages."""
    last = 0
    while True:
        ids = list(
            group_audience(group)
            .filter(id__gt=last)
            .order_by("id")
            .values_list("id", flat=True)[:PAGE]
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


def _refresh_page(
    group: UpdateGroup, profile_ids: list[int], now: dt.datetime
) -> tuple[int, list[Moved]]:
    organization = group.organization
    tz = organization.tzinfo
    asked = set(group_audience(group).filter(id__in=profile_ids).values_list("id", flat=True))
    fields = list(GroupField.objects.filter(group=group).values_list("field_id", flat=True))
    evidence = dict(
        FieldValue.objects.filter(
            organization_id=organization.pk, field_id__in=fields, profile_id__in=asked
        )
        .values("profile_id")
        .annotate(latest=Max("last_evidenced_at"))
        .values_list("profile_id", "latest")
    )
    tiers: dict[int, str] = {}
    if group.cadence == Cadence.TIERED and group.tier_field_id is not None:
        tiers = {
            profile_id: value if isinstance(value, str) else ""
            for profile_id, value in FieldValue.objects.filter(
                organization_id=organization.pk,
                field_id=group.tier_field_id,
                profile_id__in=asked,
            ).values_list("profile_id", "value")
        }
    stored = {
        row.profile_id: row
        for row in ProfileSchedule.objects.filter(group=group, profile_id__in=profile_ids)
    }
    created, changed, moved = [], [], []
    for profile_id in sorted(asked):
        row = stored.get(profile_id)
        fresh = ProfileSchedule(
            organization_id=organization.pk,
            group=group,
            profile_id=profile_id,
            joined_at=row.joined_at if row else now,
            asked_on=row.asked_on if row else None,
            evidenced_at=evidence.get(profile_id),
            tier=tiers.get(profile_id, ""),
        )
        count, unit = interval_of(group, fresh.tier)
        fresh.due_on = due_day(
            tz,
            count,
            unit,
            joined_at=fresh.joined_at,
            evidenced_at=fresh.evidenced_at,
            asked_on=fresh.asked_on,
        )
        fresh.next_due = schedule.due_at(fresh.due_on, tz)
        if row is None:
            created.append(fresh)
        elif any(getattr(row, name) != getattr(fresh, name) for name in _COMPUTED):
            if row.tier != fresh.tier and row.due_on != fresh.due_on:
                moved.append(
                    Moved(group, profile_id, row.tier, fresh.tier, row.due_on, fresh.due_on)
                )
            for name in _COMPUTED:
                setattr(row, name, getattr(fresh, name))
            changed.append(row)
    gone = [pk for pk in profile_ids if pk in stored and pk not in asked]
    if gone:
        ProfileSchedule.objects.filter(group=group, profile_id__in=gone).delete()
    if created:
        # A concurrent refresh of the same profile may have inserted it: its view stands.
        ProfileSchedule.objects.bulk_create(created, ignore_conflicts=True)
    if changed:
        ProfileSchedule.objects.bulk_update(changed, list(_COMPUTED))
    return len(created) + len(changed) + len(gone), moved


def in_database(organization: Organization) -> bool:
    """Whether the rows of the organisation's profiles are computed by the database's one
    statement: on PostgreSQL, when it knows the organisation's zone."""
    return connection.vendor == "postgresql" and organization.time_zone in zones_known_to_database()


def _refresh_in_database(
    groups: list[UpdateGroup], profile_ids: list[int], now: dt.datetime
) -> tuple[int, list[Moved]]:
    """`_refresh_page` of several groups of one organisation in one statement: the rows of
    the page's profiles are inserted, updated or deleted and their due moments computed in
    SQL, whatever the number of profiles.

    PostgreSQL adds months and years as relativedelta does (clamped to the month's last day)
    and finds a local day of an instant as zoneinfo does; only the moment of 08:00 on a day
    the zone's offset changes may differ (a gap, a repeated hour), so those rows' moments
    are left as they were and computed in Python after, as the group dispatcher does.
    """
    organization = groups[0].organization
    tz_name = organization.time_zone
    table = ProfileSchedule._meta.db_table
    values_table = FieldValue._meta.db_table
    fields_table = GroupField._meta.db_table
    by_id = {group.pk: group for group in groups}
    params: list[Any] = []
    group_rows = []
    tier_rows = []
    for group in groups:
        group_rows.append("(%s::bigint, %s::interval, %s::bigint)")
        tiered = group.cadence == Cadence.TIERED and group.tier_field_id is not None
        params += [
            group.pk,
            f"{group.interval_count} {group.interval_unit}",
            group.tier_field_id if tiered else None,
        ]
    for group in groups:
        if group.cadence == Cadence.TIERED:
            for entry in group.tiers:
                tier_rows.append("(%s::bigint, %s::text, %s::int)")
                params += [group.pk, str(entry["value"]), int(entry["months"])]
    tiers_sql = (
        f"VALUES {', '.join(tier_rows)}"
        if tier_rows
        else "SELECT NULL::bigint, NULL::text, NULL::int WHERE false"
    )
    # Groups of one audience (the usual case: everyone of the type) share its one read of the
    # page's profiles; the page's ids bound it outside the ORM's query, one array for all.
    audiences: dict[tuple[str, str], tuple[list[int], list[Any]]] = {}
    for group in groups:
        # The ORM's own query of whom the group asks, so that the two cannot drift.
        with scopes_disabled():
            inner = compiled(group_audience(group).order_by().values("id"))
        if inner is None:  # the group asks nobody (a condition on an archived field)
            continue
        audiences.setdefault((inner[0], repr(inner[1])), ([], inner[1]))[0].append(group.pk)
    asked_parts = []
    for (inner_sql, _key), (asking, inner_params) in audiences.items():
        asked_parts.append(
            f"SELECT g.id, a.id FROM ({inner_sql}) a"  # noqa: S608 - the ORM's
            " CROSS JOIN unnest(%s::bigint[]) g (id) WHERE a.id = ANY(%s::bigint[])"
        )
        params += [*inner_params, asking, profile_ids]
    if not asked_parts:
        asked_parts.append("SELECT NULL::bigint, NULL::bigint WHERE false")
    group_ids = list(by_id)
    params += [group_ids, profile_ids, group_ids, organization.pk, profile_ids, profile_ids, now]
    params += [tz_name] * 4 + [schedule.RUN_TIME.isoformat(), tz_name]
    params += [organization.pk]
    statement = f"""
        WITH grp (group_id, fallback, tier_field_id) AS (VALUES {", ".join(group_rows)}),
        tiers (group_id, value, months) AS ({tiers_sql}),
        asked (group_id, profile_id) AS ({" UNION ALL ".join(asked_parts)}),
        -- The page's rows, read once for the rows to compute and the rows to delete.
        existing AS (
            SELECT s.id, s.group_id, s.profile_id, s.joined_at, s.evidenced_at, s.asked_on,
                   s.tier, s.due_on, s.next_due
            FROM {table} s WHERE s.group_id = ANY(%s) AND s.profile_id = ANY(%s)
        ), evidence AS (
            SELECT gf.group_id, v.profile_id, max(v.last_evidenced_at) AS latest
            FROM {values_table} v JOIN {fields_table} gf ON gf.field_id = v.field_id
            WHERE gf.group_id = ANY(%s) AND v.organization_id = %s
                AND v.profile_id = ANY(%s)
            GROUP BY gf.group_id, v.profile_id
        ), tier_values AS (
            SELECT g.group_id, v.profile_id, v.value
            FROM grp g JOIN {values_table} v ON v.field_id = g.tier_field_id
            WHERE v.profile_id = ANY(%s)
        ), fresh AS (
            SELECT a.group_id, a.profile_id, s.id AS sid, s.evidenced_at AS old_evidenced,
                   s.tier AS old_tier, s.due_on AS old_due, s.next_due AS old_next,
                   coalesce(s.joined_at, %s) AS joined_at, s.asked_on,
                   e.latest AS evidenced_at, g.fallback,
                   coalesce(CASE WHEN jsonb_typeof(tv.value) = 'string'
                                 THEN tv.value #>> '{{}}' END, '') AS tier
            FROM asked a JOIN grp g ON g.group_id = a.group_id
            LEFT JOIN existing s ON s.group_id = a.group_id AND s.profile_id = a.profile_id
            LEFT JOIN evidence e ON e.group_id = a.group_id AND e.profile_id = a.profile_id
            LEFT JOIN tier_values tv
                ON tv.group_id = a.group_id AND tv.profile_id = a.profile_id
        ), dated AS (
            SELECT f.*,
                   (greatest((f.joined_at AT TIME ZONE %s)::date,
                             (f.evidenced_at AT TIME ZONE %s)::date, f.asked_on)
                    + coalesce(make_interval(months => t.months), f.fallback))::date AS due_on
            FROM fresh f
            LEFT JOIN tiers t ON t.group_id = f.group_id AND t.value = f.tier AND f.tier <> ''
        ), moments AS (
            SELECT m.due_on, z.due,
                   (z.due - interval '1 day') AT TIME ZONE %s = m.local - interval '1 day'
                   AND (z.due + interval '1 day') AT TIME ZONE %s
                       = m.local + interval '1 day' AS steady
            FROM (SELECT DISTINCT due_on, due_on + %s::time AS local FROM dated) m
            CROSS JOIN LATERAL (SELECT m.local AT TIME ZONE %s AS due) z
        ), planned AS (
            SELECT d.*, m.due AS next_due, m.steady,
                   d.sid IS NULL OR d.old_evidenced IS DISTINCT FROM d.evidenced_at
                   OR d.old_tier <> d.tier OR d.old_due <> d.due_on AS differs
            FROM dated d JOIN moments m ON m.due_on = d.due_on
        ), changed AS (
            UPDATE {table} s SET evidenced_at = p.evidenced_at, tier = p.tier,
                due_on = p.due_on,
                next_due = CASE WHEN p.steady THEN p.next_due ELSE s.next_due END
            FROM planned p
            -- The rows read already tell which differ: only those are looked up.
            WHERE s.id = p.sid AND (p.differs OR (p.steady AND p.old_next <> p.next_due))
                AND (p.differs OR s.next_due <> p.next_due)
            RETURNING s.id
        ), created AS (
            INSERT INTO {table} (organization_id, group_id, profile_id, joined_at,
                evidenced_at, asked_on, tier, due_on, next_due)
            SELECT %s, p.group_id, p.profile_id, p.joined_at, p.evidenced_at, NULL, p.tier,
                   p.due_on, p.next_due
            FROM planned p WHERE p.sid IS NULL
            -- A concurrent refresh of the same profile may have inserted it: its view stands.
            ON CONFLICT (group_id, profile_id) DO NOTHING
            RETURNING id
        ), gone AS (
            DELETE FROM {table} s USING existing x
            WHERE s.id = x.id AND NOT EXISTS (
                SELECT 1 FROM asked a
                WHERE a.group_id = x.group_id AND a.profile_id = x.profile_id)
            RETURNING s.id
        )
        SELECT 'moved', p.group_id, p.profile_id, p.old_tier, p.tier, p.old_due, p.due_on,
               NULL::timestamptz, NULL::boolean
        FROM planned p
        WHERE p.sid IS NOT NULL AND p.old_tier <> p.tier AND p.old_due <> p.due_on
        UNION ALL
        SELECT 'rare', p.group_id, p.profile_id, NULL, NULL, NULL, p.due_on,
               coalesce(p.old_next, p.next_due), p.differs
        FROM planned p WHERE NOT p.steady
        UNION ALL
        SELECT 'wrong', (SELECT count(*) FROM changed) + (SELECT count(*) FROM created)
               + (SELECT count(*) FROM gone), NULL, NULL, NULL, NULL, NULL, NULL, NULL
    """  # noqa: S608 - names from the models, values bound
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        result = cursor.fetchall()
    wrong, moved, rare = 0, [], []
    tz = organization.tzinfo
    for kind, group_id, profile_id, before, after, due_before, due_on, moment, differs in result:
        if kind == "wrong":
            wrong += group_id
        elif kind == "moved":
            moved.append(Moved(by_id[group_id], profile_id, before, after, due_before, due_on))
        elif schedule.due_at(due_on, tz) != moment:
            rare.append((group_id, profile_id, schedule.due_at(due_on, tz)))
            # A row the statement changed is counted once.
            wrong += 0 if differs else 1
    if rare:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {table} s SET next_due = m.next_due
                    FROM unnest(%s::bigint[], %s::bigint[], %s::timestamptz[])
                        AS m (group_id, profile_id, next_due)
                    WHERE s.group_id = m.group_id AND s.profile_id = m.profile_id""",  # noqa: S608
                [list(column) for column in zip(*rare, strict=True)],
            )
    return wrong, moved


def rebuild(organization_id: int, now: dt.datetime | None = None) -> int:
    """The nightly check: recomputes an organisation's rows, mending and logging any that
    differed from a fresh computation; returns how many did."""
    now = now or timezone.now()
    wrong = 0
    with scopes_disabled(), transaction.atomic():
        groups = list(
            UpdateGroup.objects.filter(organization_id=organization_id).select_related(
                "organization"
            )
        )
        stray = ProfileSchedule.objects.filter(organization_id=organization_id).exclude(
            group_id__in=[g.pk for g in groups if g.cadence in PER_PROFILE]
        )
        wrong += stray.delete()[0]
        for group in groups:
            if group.cadence in PER_PROFILE:
                wrong += _refresh_group(group, None, now)[0]
    if wrong:
        logger.warning(
            "profile schedules: %s rows of organisation %s were stale, recomputed",
            wrong,
            organization_id,
        )
    return wrong


# The dispatcher ------------------------------------------------------------------------------

_CLAIMED = (
    "pk",
    "organization_id",
    "group_id",
    "joined_at",
    "evidenced_at",
    "asked_on",
    "tier",
    "organization__time_zone",
)


def dispatch_due(
    now: dt.datetime | None = None, batch: int = CLAIM_BATCH, *, fan_out: bool = True
) -> list[int]:
    """One pass over the due schedule rows; returns the ids of the runs they were asked in.

    Crosses tenants by design. Rows are claimed with SKIP LOCKED in batches, so a second
    dispatcher takes other rows or none; each claimed row records its request's day and
    moves to its next due day in the same transaction, and the unique (group, period,
    profile) of dossiers makes a repeated fan-out open nothing twice.
    """
    now = now or timezone.now()
    run_ids: list[int] = []
    while True:
        with scopes_disabled(), transaction.atomic():
            claimed = list(
                ProfileSchedule.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(schedules_due_q(now))
                .order_by("next_due", "pk")
                .values_list(*_CLAIMED)[:batch]
            )
            if not claimed:
                break
            ids = _ask(claimed, now)
            if ids and fan_out:
                transaction.on_commit(lambda ids=ids: enqueue_runs(ids))  # type: ignore[misc]
        run_ids += [pk for pk in ids if pk not in run_ids]
        if len(claimed) < batch:
            break
    return run_ids


# A claimed row's step: (index asked, or None when not due after all; the day asked, or
# None; the next due day; its moment).
Step = tuple[int | None, dt.date | None, dt.date, dt.datetime]


def step(start: dt.date, count: int, unit: str, tz: ZoneInfo, now: dt.datetime) -> Step:
    """Where a row due from `start` (its basis day) goes at `now`: the latest due day not
    after now is asked — after downtime one request, not one per missed interval — and the
    row moves one interval past it."""
    k = schedule.last_index_due(start, count, unit, tz, now)
    if not k:
        # Not due after all (its evidence came meanwhile): only its moment is mended.
        due_on = schedule.occurrence(start, count, unit, 1)
        return None, None, due_on, schedule.due_at(due_on, tz)
    period = schedule.occurrence(start, count, unit, k)
    due_on = schedule.occurrence(period, count, unit, 1)
    # The next day runs one interval from the day asked, as `refresh` computes it from
    # `asked_on`; at a month's end that can fall before the anchored sequence's (31 January,
    # asked 28 February, next 28 March rather than 31 March) and so be past already: the
    # latest such day is the one asked.
    while schedule.due_at(due_on, tz) <= now:
        period, due_on = due_on, schedule.occurrence(due_on, count, unit, 1)
    return k, period, due_on, schedule.due_at(due_on, tz)


def _ask(claimed: list[tuple[Any, ...]], now: dt.datetime) -> list[int]:
    groups = UpdateGroup.objects.in_bulk({row[2] for row in claimed})
    zones: dict[str, ZoneInfo] = {}
    # Rows share their basis days (a morning's due rows were evidenced on a few days): each
    # distinct (day, interval, zone) is computed once per batch.
    steps: dict[tuple[dt.date, int, str, str], Step] = {}
    moves: list[tuple[int, dt.date | None, dt.date, dt.datetime]] = []
    runs: dict[tuple[int, dt.date], tuple[Any, ...]] = {}
    for pk, org_id, group_id, joined_at, evidenced_at, asked_on, tier, tz_name in claimed:
        tz = zones.get(tz_name) or zones.setdefault(tz_name, ZoneInfo(tz_name))
        count, unit = interval_of(groups[group_id], tier)
        start = basis(tz, joined_at, evidenced_at, asked_on)
        key = (start, count, unit, tz_name)
        if key not in steps:
            steps[key] = step(start, count, unit, tz, now)
        k, period, due_on, next_due = steps[key]
        if k is not None and period is not None:
            # A run is the group's day, shared by profiles due on it however late each is:
            # no count of missed periods.
            # Not spread: the profile's own day is the request's.
            runs[(group_id, period)] = (
                org_id,
                group_id,
                period,
                k,
                0,
                schedule.due_at(period, tz),
                1,
            )
            asked_on = period
        moves.append((pk, asked_on, due_on, next_due))
    _move_rows(moves)
    if not runs:
        return []
    record_runs(list(runs.values()), now)
    wanted = set(runs)
    return [
        pk
        for pk, group_id, period in UpdateRun.objects.filter(
            group_id__in={g for g, _ in wanted}, period__in={p for _, p in wanted}
        ).values_list("pk", "group_id", "period")
        if (group_id, period) in wanted
    ]


def _move_rows(moves: list[tuple[int, dt.date | None, dt.date, dt.datetime]]) -> None:
    """Writes the claimed rows' new days: on PostgreSQL one UPDATE from arrays, whatever the
    batch's size (the ORM's bulk_update builds a CASE per column and row)."""
    if connection.vendor != "postgresql":
        ProfileSchedule.objects.bulk_update(
            [
                ProfileSchedule(pk=pk, asked_on=asked_on, due_on=due_on, next_due=next_due)
                for pk, asked_on, due_on, next_due in moves
            ],
            ["asked_on", "due_on", "next_due"],
        )
        return
    table = ProfileSchedule._meta.db_table
    ids, asked, days, moments = (list(column) for column in zip(*moves, strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {table} s SET asked_on = m.asked_on, due_on = m.due_on,
                    next_due = m.next_due
                FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::timestamptz[])
                    AS m (id, asked_on, due_on, next_due)
                WHERE s.id = m.id""",  # noqa: S608 - name from the model
            [ids, asked, days, moments],
        )


# Reading a profile's schedule ----------------------------------------------------------------


@dataclass(frozen=True)
class NextUpdate:
    group: UpdateGroup
    due_on: dt.date
    next_due: dt.datetime
    count: int
    unit: str
    tier: str
    evidenced_on: dt.date | None
    joined_on: dt.date
    asked_on: dt.date | None

    @property
    def why(self) -> str:
        """ "every 12 months, Risk: High, last evidenced 14/03/2026"."""
        parts = [frequency_in_words(self.count, self.unit)]
        field = self.group.tier_field
        if self.group.cadence == Cadence.TIERED and field is not None:
            parts.append(
                gettext("%(field)s: %(tier)s")
                % {
                    "field": field.local_label,
                    "tier": field.choice_label(self.tier) if self.tier else "—",
                }
            )
        if self.evidenced_on is not None and (
            self.asked_on is None or self.evidenced_on >= self.asked_on
        ):
            parts.append(gettext("last evidenced %(date)s") % {"date": day(self.evidenced_on)})
        elif self.asked_on is not None:
            parts.append(gettext("last asked %(date)s") % {"date": day(self.asked_on)})
        else:
            parts.append(gettext("in the group since %(date)s") % {"date": day(self.joined_on)})
        return ", ".join(parts)


def next_updates(profile: Profile) -> list[NextUpdate]:
    """The profile's own next update in each rolling or tiered group that asks it."""
    tz = profile.organization.tzinfo
    rows = ProfileSchedule.objects.filter(
        organization_id=profile.organization_id, profile_id=profile.pk
    ).select_related("group", "group__tier_field")
    return [_next_update(row, tz) for row in rows.order_by("due_on", "group_id")]


def next_update(group: UpdateGroup, profile_id: int) -> NextUpdate | None:
    row = (
        ProfileSchedule.objects.filter(group=group, profile_id=profile_id)
        .select_related("group", "group__tier_field")
        .first()
    )
    return None if row is None else _next_update(row, group.organization.tzinfo)


def _next_update(row: ProfileSchedule, tz: ZoneInfo) -> NextUpdate:
    count, unit = interval_of(row.group, row.tier)
    return NextUpdate(
        group=row.group,
        due_on=row.due_on,
        next_due=row.next_due,
        count=count,
        unit=unit,
        tier=row.tier,
        evidenced_on=row.evidenced_at.astimezone(tz).date() if row.evidenced_at else None,
        joined_on=row.joined_at.astimezone(tz).date(),
        asked_on=row.asked_on,
    )


@dataclass(frozen=True)
class DueDay:
    day: dt.date
    profiles: int


def upcoming_days(group: UpdateGroup, now: dt.datetime, n: int = 10) -> tuple[int, list[DueDay]]:
    """How many profiles are due now (the next pass asks them), and the next `n` days on
    which some are due, with how many: the group page's schedule of a rolling group."""
    rows = ProfileSchedule.objects.filter(group=group)
    due_now = rows.filter(next_due__lte=now).count()
    days = (
        rows.filter(next_due__gt=now)
        .values("due_on")
        .annotate(profiles=Count("id"))
        .order_by("due_on")[:n]
    )
    return due_now, [DueDay(d["due_on"], d["profiles"]) for d in days]


def any_schedule() -> Exists:
    """Whether the profile of the outer query is scheduled apart in some group: the profile
    page reads it with the profile, and asks `field_notes` only then."""
    return Exists(ProfileSchedule.objects.filter(profile_id=OuterRef("pk")))


def field_notes(profile: Profile) -> dict[int, str]:
    """The profile page's note beside each field of a rolling or tiered group: the
    profile's own next update and why (registered with `profiles.attention.register_notes`)."""
    updates = next_updates(profile)
    if not updates:
        return {}
    fields = GroupField.objects.filter(group__in=[u.group for u in updates]).values_list(
        "group_id", "field_id"
    )
    by_group = {u.group.pk: u for u in updates}
    return {
        field_id: gettext("Next update %(date)s — %(why)s")
        % {"date": day(by_group[group_id].due_on), "why": by_group[group_id].why}
        for group_id, field_id in fields
    }
