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
    from profiles.models import DataField, Kind

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
    # Set-based, as a million profiles take minutes one object at a time.
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO profiles_profile (uuid, kind, first_name, last_name, email, phone,
                language, is_representative, name, registration_number, address, created_at,
                updated_at, organization_id)
            SELECT gen_random_uuid(), 'contact', '', 'P' || i, 'p' || i || '@x.org', '', 'fr',
                false, '', '', '', %(joined)s, %(joined)s, %(org)s
            FROM generate_series(0, %(n)s - 1) i
            """,
            {"org": org.pk, "n": n, "joined": NOW - dt.timedelta(days=400)},
        )
        cursor.execute(
            """
            INSERT INTO profiles_fieldvalue (organization_id, profile_id, field_id, value,
                updated_at)
            SELECT %(org)s, p.id, %(risk)s,
                   CASE WHEN p.id %% 3 = 0 THEN '"Low"' ELSE '"High"' END::jsonb, %(now)s
            FROM profiles_profile p WHERE p.organization_id = %(org)s
            """,
            {"org": org.pk, "risk": risk.pk, "now": NOW},
        )
    # Statistics first: the planner would otherwise take the profiles just written for none.
    analyze()
    table = ProfileSchedule._meta.db_table
    with connection.cursor() as cursor:
        # Due rows spread over the groups; the rest due on a day of the year to come. The
        # tier column holds the profile's risk in the tiered group, and each row joined one
        # interval (its tier's) before its due day, as refresh computes them: a refresh of
        # these profiles finds nothing to mend but what the measure changes.
        cursor.execute(
            f"""
            INSERT INTO {table} (organization_id, group_id, profile_id, joined_at,
                evidenced_at, asked_on, tier, due_on, next_due)
            SELECT %(org)s, g.id, p.id,
                   ((d.due_on - make_interval(months => i.months)) + time '09:00')
                       AT TIME ZONE 'Europe/Paris',
                   NULL, NULL, t.tier, d.due_on,
                   (d.due_on + time '08:00') AT TIME ZONE 'Europe/Paris'
            FROM profiles_profile p
            JOIN profiles_fieldvalue v ON v.profile_id = p.id AND v.field_id = %(risk)s
            CROSS JOIN (SELECT id, cadence, row_number() OVER (ORDER BY id) - 1 AS k
                        FROM monitoring_updategroup WHERE organization_id = %(org)s) g
            CROSS JOIN LATERAL (
                SELECT CASE WHEN g.cadence = 'tiered' THEN (v.value #>> '{{}}') ELSE '' END
                    AS tier
            ) t
            CROSS JOIN LATERAL (
                SELECT CASE WHEN t.tier = 'Low' THEN 60 ELSE 12 END AS months
            ) i
            CROSS JOIN LATERAL (
                SELECT CASE WHEN (p.id * 3 + g.k) %% %(every)s = 0 THEN date '2026-06-15'
                            ELSE date '2026-06-16' + ((p.id * 7 + g.k) %% 365)::int END AS due_on
            ) d
            WHERE p.organization_id = %(org)s
            """,
            {"org": org.pk, "risk": risk.pk, "every": max(1, n * GROUPS // due)},
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


def _tier_rows(tiered: Any, chosen: list[int]) -> tuple[int, int, float]:
    """How many of the chosen profiles' rows of the tiered group are on the high tier, and a
    checksum of their due days and moments: ours and the floor must leave the same rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FILTER (WHERE tier = 'High'),
                      coalesce(sum(due_on - date '2000-01-01'), 0),
                      coalesce(sum(extract(epoch FROM next_due)), 0)
               FROM monitoring_profileschedule
               WHERE group_id = %s AND profile_id = ANY(%s)""",
            [tiered.pk, chosen],
        )
        high, days, moments = cursor.fetchone()
    return int(high), int(days), float(moments)


def tier_floor(tiered: Any, risk_id: int, page: list[int]) -> int:
    """The floor of a tier change: one hand-written UPDATE … FROM moving the page's rows of
    the tiered group to their new tier's interval, nothing else read or checked."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE monitoring_profileschedule s
            SET tier = n.tier, due_on = n.due_on,
                next_due = (n.due_on + time '08:00') AT TIME ZONE 'Europe/Paris'
            FROM (
                SELECT s2.id, t.value AS tier,
                       (greatest((s2.joined_at AT TIME ZONE 'Europe/Paris')::date,
                                 (s2.evidenced_at AT TIME ZONE 'Europe/Paris')::date,
                                 s2.asked_on)
                        + make_interval(months => t.months))::date AS due_on
                FROM monitoring_profileschedule s2
                JOIN profiles_fieldvalue v ON v.profile_id = s2.profile_id
                    AND v.field_id = %s
                JOIN (VALUES ('High', 12), ('Low', 60)) AS t (value, months)
                    ON t.value = v.value #>> '{}'
                WHERE s2.group_id = %s AND s2.profile_id = ANY(%s)
            ) n
            WHERE s.id = n.id
            """,
            [risk_id, tiered.pk, page],
        )
        return cursor.rowcount


def tier_floor_all_groups(groups: list[Any], tiered: Any, risk_id: int, page: list[int]) -> int:
    """The floor of what a refresh must do: a batch's import may change any value, so every
    rolling or tiered group's rows of the page are recomputed (the tiered group's from its
    tier, the others' from their interval), and those that differ written. Still no
    audience, evidence, clock change or history."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE monitoring_profileschedule s
            SET tier = n.tier, due_on = n.due_on,
                next_due = (n.due_on + time '08:00') AT TIME ZONE 'Europe/Paris'
            FROM (
                SELECT s2.id, coalesce(t.value, '') AS tier,
                       (greatest((s2.joined_at AT TIME ZONE 'Europe/Paris')::date,
                                 (s2.evidenced_at AT TIME ZONE 'Europe/Paris')::date,
                                 s2.asked_on)
                        + coalesce(make_interval(months => t.months), g.fallback))::date
                           AS due_on
                FROM monitoring_profileschedule s2
                JOIN unnest(%s::bigint[], %s::interval[]) AS g (id, fallback)
                    ON g.id = s2.group_id
                LEFT JOIN profiles_fieldvalue v ON s2.group_id = %s
                    AND v.profile_id = s2.profile_id AND v.field_id = %s
                LEFT JOIN (VALUES ('High', 12), ('Low', 60)) AS t (value, months)
                    ON t.value = v.value #>> '{}'
                WHERE s2.group_id = ANY(%s) AND s2.profile_id = ANY(%s)
            ) n
            WHERE s.id = n.id AND (s.tier, s.due_on) IS DISTINCT FROM (n.tier, n.due_on)
            """,
            [
                [g.pk for g in groups],
                [f"{g.interval_count} {g.interval_unit}" for g in groups],
                tiered.pk,
                risk_id,
                [g.pk for g in groups],
                page,
            ],
        )
        return cursor.rowcount


def bench_tier_change(org: Any, groups: list[Any], changed: int, page: int) -> dict[str, Any]:
    """A raised risk on `changed` profiles at once, as an import writes it a batch (`page`
    profiles) at a time: the receiver of `values_imported` moves their schedule rows and
    says each move in the profile's history; beside the floor moving the same rows."""
    from django.db import connection, transaction

    from monitoring import actions, rolling
    from monitoring.models import Cadence
    from organizations.actors import Actor
    from profiles.models import Profile

    tiered = next(g for g in groups if g.cadence == Cadence.TIERED)
    risk_id = tiered.tier_field_id
    with connection.cursor() as cursor:
        # Low-tier profiles the dispatcher has not asked: their rows move with the tier only.
        cursor.execute(
            """SELECT profile_id FROM monitoring_profileschedule
               WHERE group_id = %s AND tier = 'Low' AND asked_on IS NULL
               ORDER BY profile_id LIMIT %s""",
            [tiered.pk, changed],
        )
        chosen = [pk for (pk,) in cursor.fetchall()]
        cursor.execute(
            "CREATE TEMP TABLE saved_schedules AS SELECT * FROM monitoring_profileschedule"
            " WHERE group_id = %s AND profile_id = ANY(%s)",
            [tiered.pk, chosen],
        )
        # The import's own write of the values, not measured: the receiver's work follows it.
        cursor.execute(
            """UPDATE profiles_fieldvalue SET value = '"High"'
               WHERE field_id = %s AND profile_id = ANY(%s)""",
            [risk_id, chosen],
        )
    pages = [chosen[i : i + page] for i in range(0, len(chosen), page)]
    actor = Actor.system("bench")
    rows = {"seconds": 0.0, "queries": 0.0}
    history = {"seconds": 0.0, "queries": 0.0}
    moved_count = 0
    for ids in pages:
        profiles = Profile.objects.in_bulk(ids)
        with transaction.atomic():
            with measured() as part:
                moved = rolling.refresh(org.pk, profile_ids=ids)
            with measured() as said:
                actions.record_tier_moves(
                    organization_id=org.pk, moved=moved, actor=actor, profiles=profiles
                )
        moved_count += len(moved)
        for total, measure in ((rows, part), (history, said)):
            total["seconds"] += measure["seconds"]
            total["queries"] += measure["queries"]
    ours = _tier_rows(tiered, chosen)
    assert ours[0] == len(chosen) == moved_count, (ours, len(chosen), moved_count)

    def restore() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                """UPDATE monitoring_profileschedule s SET tier = v.tier, due_on = v.due_on,
                       next_due = v.next_due
                   FROM saved_schedules v WHERE s.id = v.id"""
            )

    restore()
    with measured() as floor:
        for ids in pages:
            with transaction.atomic():
                tier_floor(tiered, risk_id, ids)
    assert _tier_rows(tiered, chosen) == ours
    restore()
    with measured() as floor_all:
        for ids in pages:
            with transaction.atomic():
                tier_floor_all_groups(groups, tiered, risk_id, ids)
    assert _tier_rows(tiered, chosen) == ours
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE saved_schedules")
    print(f"tier change: {len(chosen):,} profiles in {rows['seconds']:.2f} s", flush=True)
    return {
        "profiles": len(chosen),
        "page": page,
        "pages": len(pages),
        "rows_seconds": rows["seconds"],
        "rows_queries_per_page": rows["queries"] / len(pages),
        "history_seconds": history["seconds"],
        "history_queries_per_page": history["queries"] / len(pages),
        "floor_seconds": floor["seconds"],
        "floor_all_groups_seconds": floor_all["seconds"],
    }


def bench_schedules(
    sizes: list[tuple[int, int]], naive_limit: int, tier_change: tuple[int, int]
) -> dict[str, Any]:
    """The dispatcher at each size, then a tier change of `tier_change` (profiles, an
    import's batch) on the largest organisation."""
    from monitoring import rolling

    rows = []
    org: Any = None
    groups: list[Any] = []
    for n, due in sizes:
        org, groups = build_schedules(n, due)
        claimed = _due_count(NOW)
        with measured() as ours:
            rolling.dispatch_due(now=NOW, fan_out=False)
        assert _due_count(NOW) == 0
        with measured() as naive:
            seen = naive_pass(org, groups, min(n * GROUPS, naive_limit))
        org, groups = build_schedules(n, due)
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
    return {"dispatcher": rows, "tier_change": bench_tier_change(org, groups, *tier_change)}


def render_schedules(schedules: dict[str, Any] | list[dict[str, Any]]) -> list[str]:
    # Figures saved before the tier change was measured hold the dispatcher's rows only.
    found: dict[str, Any] = schedules if isinstance(schedules, dict) else {"dispatcher": schedules}
    dispatcher: list[dict[str, Any]] = found["dispatcher"]
    sample = max((r["naive_sample"] for r in dispatcher), default=0)
    lines = [
        "## 9. The dispatcher of rolling and tiered groups",
        "",
        "One pass of `monitoring.rolling.dispatch_due` over the per-profile schedule rows of 3"
        " groups (rolling, tiered, rolling): it claims the due rows with SKIP LOCKED in batches"
        " (through the index on the due moment, so its work follows the due rows, not the"
        " profiles), records a run per (group, day) and moves each row to its next due day; the"
        " fan-out of their dossiers is section 1's. Naive: every profile's next due moment"
        f" computed in Python from its values, timed on a sample of {sample:,} rows and scaled"
        " up to all of them (the whole would take hours). Floor: one hand-written"
        " `UPDATE … FROM` claiming and moving the same rows.",
        "",
        "| profiles | rows | due | ours (s) | queries | naive (s) | floor (s) | naive / ours |"
        " floor / ours |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in dispatcher:
        lines.append(
            f"| {r['profiles']:,} | {r['rows']:,} | {r['due']:,} | {r['ours_seconds']:.2f} |"
            f" {r['ours_queries']:,} | {r['naive_seconds']:,.0f} | {r['floor_seconds']:.2f} |"
            f" {r['naive_seconds'] / r['ours_seconds']:,.0f} x |"
            f" {r['floor_seconds'] / r['ours_seconds']:.2f} |"
        )
    lines.append("")
    tier = found.get("tier_change")
    if tier:
        # Figures saved before the floor of all groups was measured have the tiered one only.
        every = tier.get("floor_all_groups_seconds")
        lines += [
            "A tier change: an import raises the risk of"
            f" {tier['profiles']:,} profiles of the largest organisation, {tier['page']:,} a"
            " batch. The receiver of `values_imported` (`monitoring.rolling.refresh` of the"
            " batch's profiles) moves their schedule rows of the 3 groups in one statement"
            " per batch, computing each due day and moment in SQL (a tier's interval from the"
            " last evidence, request or entry, in the organisation's time zone; the rare"
            " moments on a day the clock changes are computed in Python), and the history"
            " says each move with one audit entry per profile, written a batch at once."
            " Floor: one hand-written `UPDATE … FROM` per batch moving the same rows of the"
            " tiered group only. Floor, all groups: the same statement over the rows of the"
            " 3 groups, writing those that differ, as a refresh must (an import may change"
            " any value, so every group's rows of the batch are recomputed); neither floor"
            " checks the audience, the evidence or the clock changes.",
            "",
            "| profiles | batches | rows (s) | queries / batch | history (s) |"
            " queries / batch | floor (s) | floor / rows | floor, all groups (s) |"
            " floor, all groups / rows |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
            f"| {tier['profiles']:,} | {tier['pages']:,} | {tier['rows_seconds']:.2f} |"
            f" {tier['rows_queries_per_page']:.0f} | {tier['history_seconds']:.2f} |"
            f" {tier['history_queries_per_page']:.0f} | {tier['floor_seconds']:.2f} |"
            f" {tier['floor_seconds'] / tier['rows_seconds']:.2f} |"
            + (
                f" {every:.2f} | {every / tier['rows_seconds']:.2f} |"
                if every is not None
                else " — | — |"
            ),
            "",
        ]
    return lines
