"""Section 9, the dispatcher of rolling and tiered groups: one pass claiming the due schedule
rows among many, beside computing every profile's next due moment in Python and the
database's floor (one hand-written UPDATE)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bench.common import analyze, measured, truncate

NOW = dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC)
GROUPS = 3


def build_schedules(n: int, due: int) -> tuple[Any, list[Any]]:
    """An organisation of `n` contacts in 3 groups (rolling, tiered, rolling), one schedule
    row per (group, profile); `due` rows are due at NOW, the others in the year to come."""
    from django.db import connection

    from monitoring.models import Cadence, ProfileSchedule, UpdateGroup
    from organizations.models import Organization
    from profiles.models import DataField, FieldValue, Kind, Profile

    truncate(
        "monitoring_profileschedule",
        "monitoring_updaterun",
        "profiles_profile",
        "monitoring_updategroup",
        "organizations_organization",
    )
    org = Organization.objects.create(name="Schedules", slug="schedules")
    risk = DataField.objects.create(
        organization=org,
        applies_to=Kind.CONTACT,
        label="Risk",
        type="choice",
        choices=["High", "Low"],
        position=0,
    )
    groups = []
    for i, cadence in enumerate([Cadence.ROLLING, Cadence.TIERED, Cadence.ROLLING]):
        group = UpdateGroup(
            organization=org,
            title=f"G{i}",
            applies_to=Kind.CONTACT,
            start_date=dt.date(2025, 1, 1),
            interval_count=12,
            interval_unit="months",
            cadence=cadence,
            tier_field=risk if cadence == Cadence.TIERED else None,
            tiers=[{"value": "High", "months": 12}, {"value": "Low", "months": 60}]
            if cadence == Cadence.TIERED
            else [],
        )
        group.schedule_from(NOW)
        group.save()
        groups.append(group)
    for start in range(0, n, 5000):
        profiles = Profile.objects.bulk_create(
            Profile(organization=org, kind=Kind.CONTACT, last_name=f"P{i}", email=f"p{i}@x.org")
            for i in range(start, min(n, start + 5000))
        )
        FieldValue.objects.bulk_create(
            FieldValue(organization=org, profile=p, field=risk, value="High" if p.pk % 3 else "Low")
            for p in profiles
        )
    # Statistics first: the planner would otherwise take the profiles just written for none.
    analyze()
    table = ProfileSchedule._meta.db_table
    with connection.cursor() as cursor:
        # Due rows spread over the groups; the rest due on a day of the year to come. The
        # tier column holds the profile's risk in the tiered group, as refresh keeps it.
        cursor.execute(
            f"""
            INSERT INTO {table} (organization_id, group_id, profile_id, joined_at,
                evidenced_at, asked_on, tier, due_on, next_due)
            SELECT %(org)s, g.id, p.id, %(joined)s, NULL, NULL,
                   CASE WHEN g.cadence = 'tiered' THEN (v.value #>> '{{}}') ELSE '' END,
                   d.due_on, (d.due_on + time '08:00') AT TIME ZONE 'Europe/Paris'
            FROM profiles_profile p
            JOIN profiles_fieldvalue v ON v.profile_id = p.id AND v.field_id = %(risk)s
            CROSS JOIN (SELECT id, cadence, row_number() OVER (ORDER BY id) - 1 AS k
                        FROM monitoring_updategroup WHERE organization_id = %(org)s) g
            CROSS JOIN LATERAL (
                SELECT CASE WHEN (p.id * 3 + g.k) %% %(every)s = 0 THEN date '2026-06-15'
                            ELSE date '2026-06-16' + ((p.id * 7 + g.k) %% 365)::int END AS due_on
            ) d
            WHERE p.organization_id = %(org)s
            """,
            {
                "org": org.pk,
                "risk": risk.pk,
                "joined": NOW - dt.timedelta(days=400),
                "every": max(1, n * GROUPS // due),
            },
        )
    analyze()
    return org, groups


def _due_count(now: dt.datetime) -> int:
    from monitoring.models import ProfileSchedule

    return ProfileSchedule.objects.filter(next_due__lte=now).count()


def naive_pass(org: Any, groups: list[Any], limit: int) -> int:
    """What a user writes first: each profile's next due moment computed in Python, from its
    values read one profile at a time. Returns how many profiles it looked at."""
    from django.db.models import Max

    from monitoring import rolling, schedule
    from monitoring.models import GroupField
    from profiles.models import FieldValue, Profile

    tz = org.tzinfo
    seen = 0
    for group in groups:
        fields = list(GroupField.objects.filter(group=group).values_list("field_id", flat=True))
        for profile in Profile.objects.filter(organization=org).order_by("id")[
            : limit // len(groups)
        ]:
            evidenced = FieldValue.objects.filter(profile=profile, field_id__in=fields).aggregate(
                m=Max("last_evidenced_at")
            )["m"]
            tier = (
                FieldValue.objects.filter(profile=profile, field_id=group.tier_field_id)
                .values_list("value", flat=True)
                .first()
                if group.tier_field_id
                else ""
            )
            count, unit = rolling.interval_of(group, tier or "")
            day = rolling.due_day(
                tz, count, unit, joined_at=profile.created_at, evidenced_at=evidenced, asked_on=None
            )
            schedule.due_at(day, tz) <= NOW  # noqa: B015 - the comparison is the work
            seen += 1
    return seen


def floor_pass(limit: int) -> int:
    """The floor: one statement claiming, recording and moving the due rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH due AS (
                SELECT id FROM monitoring_profileschedule WHERE next_due <= %s
                ORDER BY next_due LIMIT %s FOR UPDATE SKIP LOCKED
            )
            UPDATE monitoring_profileschedule s
            SET asked_on = s.due_on, due_on = (s.due_on + interval '12 months')::date,
                next_due = s.next_due + interval '12 months'
            FROM due WHERE s.id = due.id
            RETURNING s.group_id
            """,
            [NOW, limit],
        )
        return len(cursor.fetchall())


def bench_schedules(sizes: list[tuple[int, int]], naive_limit: int) -> list[dict[str, Any]]:
    from monitoring import rolling

    rows = []
    for n, due in sizes:
        org, groups = build_schedules(n, due)
        claimed = _due_count(NOW)
        with measured() as ours:
            rolling.dispatch_due(now=NOW, fan_out=False)
        assert _due_count(NOW) == 0
        with measured() as naive:
            seen = naive_pass(org, groups, min(n * GROUPS, naive_limit))
        build_schedules(n, due)
        with measured() as floor:
            floored = floor_pass(claimed)
        assert floored == claimed
        rows.append(
            {
                "profiles": n,
                "rows": n * GROUPS,
                "due": claimed,
                "ours_seconds": ours["seconds"],
                "ours_queries": ours["queries"],
                # Computing every row's due moment in Python, extrapolated from a sample.
                "naive_seconds": naive["seconds"] / seen * n * GROUPS,
                "naive_sample": seen,
                "floor_seconds": floor["seconds"],
            }
        )
        print(f"schedules {n}: {claimed:,} due rows in {ours['seconds']:.2f} s", flush=True)
    return rows


def render_schedules(schedules: list[dict]) -> list[str]:
    lines = [
        "## 9. The dispatcher of rolling and tiered groups",
        "",
        "One pass of `monitoring.rolling.dispatch_due` over the per-profile schedule rows of 3"
        " groups (rolling, tiered, rolling): it claims the due rows with SKIP LOCKED in batches,"
        " records a run per (group, day) and moves each row to its next due day; the fan-out of"
        " their dossiers is section 1's. Naive: every profile's next due moment computed in"
        " Python from its values (extrapolated from a sample). Floor: one hand-written"
        " `UPDATE … FROM` claiming and moving the same rows.",
        "",
        "| profiles | rows | due | ours (s) | queries | naive (s) | floor (s) | naive / ours |"
        " floor / ours |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in schedules:
        lines.append(
            f"| {r['profiles']:,} | {r['rows']:,} | {r['due']:,} | {r['ours_seconds']:.2f} |"
            f" {r['ours_queries']:,} | {r['naive_seconds']:,.0f} | {r['floor_seconds']:.2f} |"
            f" {r['naive_seconds'] / r['ours_seconds']:,.0f} x |"
            f" {r['floor_seconds'] / r['ours_seconds']:.2f} |"
        )
    lines.append("")
    return lines
