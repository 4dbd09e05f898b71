"""Whom a group asks, and which groups are due: each rule named once.

- `asked_by(organization, kind)`: the profiles a group of that type asks, every active one
  (the dispatcher's chunks, the count the group form shows, the group page's list).
- `due_q(now)` / `due_sql(alias)`: a group is due when it is active and its next run's
  moment has come; the dispatcher claims them through the ORM (`_claim`) or in its one
  PostgreSQL statement (`_dispatch_in_database`). tests/monitoring/test_selectors.py proves
  on random groups that both forms select the same ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.db.models import Q

from monitoring.models import PER_PROFILE, Cadence, ProfileSchedule, UpdateGroup
from profiles.models import Profile, ProfileQuerySet


def asked_by(organization: Any, kind: str) -> ProfileQuerySet:
    """The profiles a group of `kind` (contacts or companies) of `organization` asks."""
    # The stubs cannot see through django-scopes' manager: the QuerySet is named here.
    profiles = cast(ProfileQuerySet, Profile.objects.filter(organization=organization))
    return profiles.active().of_kind(kind)


def due_q(now: dt.datetime) -> Q:
    """The calendar groups whose next run is due at `now` (the partial index `group_due`
    serves it); rolling and tiered groups are due profile by profile (`schedules_due_q`)."""
    return Q(is_active=True, next_run_at__lte=now, cadence=Cadence.CALENDAR)


def due_sql(alias: str) -> str:
    """`due_q` for the group a statement names `alias`, `now` bound as `%(now)s`."""
    return (
        f"{alias}.is_active AND {alias}.next_run_at <= %(now)s"
        f" AND {alias}.cadence = '{Cadence.CALENDAR.value}'"
    )


def schedules_due_q(now: dt.datetime) -> Q:
    """The per-profile schedule rows due at `now`, of active rolling or tiered groups."""
    return Q(next_due__lte=now, group__is_active=True, group__cadence__in=PER_PROFILE)


def profiles_asked(group: UpdateGroup, period: dt.date, after: int, limit: int) -> list[int]:
    """The next page of profiles a rolling or tiered group asked on `period` (a run's fan-out):
    those whose row records that day, still asked by the group."""
    return list(
        asked_by(group.organization, group.applies_to)
        .filter(
            id__gt=after,
            id__in=ProfileSchedule.objects.filter(group=group, asked_on=period).values(
                "profile_id"
            ),
        )
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
