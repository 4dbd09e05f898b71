"""Whom a group asks, and which groups are due: each rule named once.

- `group_audience(group)`: the profiles a group asks, the one rule of whom it asks: the
  active profiles of its type meeting its audience's conditions (the dispatcher's chunks,
  the workload chart, the recipients' page and "Send now"); `audience(organization, kind,
  conditions)` is the same rule for a group not saved yet (the group form's live count).
  `group_audience_sql(group, alias)` is the same predicate for a raw statement, compiled
  from the ORM's so that the two cannot drift; tests/monitoring/test_audience.py proves on
  random profiles and conditions that both select the same rows.
  `audiences_sql(organization_id, alias)` is that predicate for every group of an
  organisation that has an audience at once (the compliance overview's cells).
- `due_q(now)` / `due_sql(alias)`: a group is due when it is active, on a calendar, and its
  next run's moment has come (its `GroupDue` row); the dispatcher claims them through the
  ORM (`_claim`) or in its one PostgreSQL statement (`_dispatch_in_database`).
  tests/monitoring/test_selectors.py proves on random groups that both forms select the
  same ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.core.exceptions import EmptyResultSet
from django.db.models import Q
from django_scopes import scopes_disabled

from monitoring.models import (
    PER_PROFILE,
    Cadence,
    DispatchPass,
    ProfileSchedule,
    UpdateGroup,
    UpdateRun,
)
from profiles.models import DataField, Profile, ProfileQuerySet


def audience_fields(organization: Any, kind: str) -> list[DataField]:
    """The fields an audience of `kind` may name: the type's active fields."""
    return list(DataField.objects.active().filter(organization=organization, applies_to=kind))


def audience(
    organization: Any,
    kind: str,
    conditions: list[dict[str, Any]],
    fields: list[DataField] | None = None,
) -> ProfileQuerySet:
    """The profiles a group of `kind` of `organization` with these (clean) conditions asks."""
    # The stubs cannot see through django-scopes' manager: the QuerySet is named here.
    profiles = cast(ProfileQuerySet, Profile.objects.filter(organization=organization))
    profiles = profiles.active().of_kind(kind)
    if not conditions:
        return profiles
    if fields is None:
        fields = audience_fields(organization, kind)
    return profiles.meeting(conditions, fields)


def group_audience(group: UpdateGroup) -> ProfileQuerySet:
    """The profiles `group` asks."""
    return audience(group.organization_id, group.applies_to, group.audience or [])


def outside_audience(group: UpdateGroup) -> ProfileQuerySet:
    """The active profiles of the group's type its audience leaves out."""
    everyone = audience(group.organization_id, group.applies_to, [])
    if not group.audience:
        return everyone.none()
    return everyone.exclude(pk__in=group_audience(group).values("pk"))


def compiled(queryset: Any) -> tuple[str, list[Any]] | None:
    """A queryset's SQL and parameters, or None when it can hold no row: Django refuses to
    compile such a query (a condition on an archived field, an empty list of ids)."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:
        return None
    return sql, list(params)


def _ids_in(alias: str, queryset: Any) -> tuple[str, list[Any]]:
    found = compiled(queryset.order_by().values("id"))
    if found is None:
        return "1 = 0", []
    return f"{alias}.id IN ({found[0]})", found[1]


def group_audience_sql(group: UpdateGroup, alias: str) -> tuple[str, list[Any]]:
    """`group_audience(group)` for the profile a statement names `alias`: a condition and
    its parameters."""
    with scopes_disabled():
        return _ids_in(alias, group_audience(group))


def audiences_sql(organization_id: int, alias: str) -> list[tuple[int, str, list[Any]]]:
    """For each group of the organisation that narrows its audience: its id and
    `group_audience_sql` for it. One query when no group has an audience (the usual case),
    two otherwise, whatever the number of groups."""
    with scopes_disabled():
        narrowed = [
            (pk, kind, conditions)
            for pk, kind, conditions in UpdateGroup.objects.filter(
                organization_id=organization_id
            ).values_list("pk", "applies_to", "audience")
            if conditions
        ]
        if not narrowed:
            return []
        fields = list(DataField.objects.active().filter(organization_id=organization_id))
        found = []
        for pk, kind, conditions in narrowed:
            of_kind = [field for field in fields if field.applies_to == kind]
            sql, params = _ids_in(alias, audience(organization_id, kind, conditions, of_kind))
            found.append((pk, sql, params))
    return found


def due_q(now: dt.datetime) -> Q:
    """The `GroupDue` rows of the active calendar groups whose next run is due at `now` (the
    partial index `group_due_at` serves it); rolling and tiered groups are due profile by
    profile (`schedules_due_q`). The group's own state is checked too: `dispatched` keeps
    the index small, a group written around `UpdateGroup.save` is not sent for all that."""
    return Q(
        dispatched=True,
        next_run_at__lte=now,
        group__is_active=True,
        group__cadence=Cadence.CALENDAR,
    )


def due_sql(due: str, group: str) -> str:
    """`due_q` for the `GroupDue` row and the group a statement names `due` and `group`,
    `now` bound as `%(now)s`."""
    return (
        f"{due}.dispatched AND {due}.next_run_at <= %(now)s"
        f" AND {group}.is_active AND {group}.cadence = '{Cadence.CALENDAR.value}'"
    )


def unfinished_runs_count(organization_id: int | None = None) -> int:
    """Runs recorded and not finished (the partial index `unfinished_runs` holds them): all
    organisations' for the operators' metrics, one's for its status page."""
    with scopes_disabled():
        runs = UpdateRun.objects.filter(finished_at__isnull=True)
        if organization_id is not None:
            runs = runs.filter(organization_id=organization_id)
        return runs.count()


def last_dispatch_pass() -> DispatchPass | None:
    """The scheduled dispatcher's latest pass, if it ever ran."""
    return DispatchPass.objects.filter(pk=1).first()


def schedules_due_q(now: dt.datetime) -> Q:
    """The per-profile schedule rows due at `now`, of active rolling or tiered groups."""
    return Q(next_due__lte=now, group__is_active=True, group__cadence__in=PER_PROFILE)


def profiles_asked(group: UpdateGroup, period: dt.date, after: int, limit: int) -> list[int]:
    """The next page of profiles a rolling or tiered group asked on `period` (a run's fan-out):
    those whose row records that day, still asked by the group."""
    return list(
        group_audience(group)
        .filter(
            id__gt=after,
            id__in=ProfileSchedule.objects.filter(group=group, asked_on=period).values(
                "profile_id"
            ),
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
