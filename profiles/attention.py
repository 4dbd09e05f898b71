"""Which profiles need attention: apps to the right of profiles say so, the lists ask.

A provider returns SQL selecting profile ids (with its parameters); monitoring registers
one from its AppConfig, so the profile lists filter and flag without importing it. A
schedule provider says when a profile is next asked for some of its fields, and why, where a
group schedules each profile apart (rolling and tiered cadences): the profile page shows it
beside those fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from profiles.models import Profile

Provider = Callable[[int, str, dt.date, tuple[int, ...]], tuple[str, list[Any]]]
providers: list[Provider] = []
# {field id: a short text}: the profile's own next update of that field, and why.
ScheduleProvider = Callable[[Profile], dict[int, str]]
schedule_providers: list[ScheduleProvider] = []


def register(provider: Provider) -> None:
    if provider not in providers:
        providers.append(provider)


def register_schedule(provider: ScheduleProvider) -> None:
    if provider not in schedule_providers:
        schedule_providers.append(provider)


def next_updates(profile: Profile) -> dict[int, list[str]]:
    """The profile's own next updates, by field, as the registered providers say them."""
    notes: dict[int, list[str]] = {}
    for provider in schedule_providers:
        for field_id, note in provider(profile).items():
            notes.setdefault(field_id, []).append(note)
    return notes


def needing_attention(
    profiles: QuerySet[Profile], organization_id: int, kind: str, today: dt.date
) -> QuerySet[Profile]:
    if not providers:
        return profiles.none()
    sql, params = _union(organization_id, kind, today, ())
    return profiles.filter(id__in=RawSQL(sql, params))  # noqa: S611 - SQL built by providers


def flagged(organization_id: int, kind: str, today: dt.date, ids: list[int]) -> set[int]:
    """Which of `ids` need attention: one query for a page of a list."""
    if not providers or not ids:
        return set()
    sql, params = _union(organization_id, kind, today, tuple(ids))
    return set(
        Profile.objects.filter(id__in=RawSQL(sql, params)).values_list("id", flat=True)  # noqa: S611
    )


def _union(
    organization_id: int, kind: str, today: dt.date, ids: tuple[int, ...]
) -> tuple[str, list[Any]]:
    parts = [provider(organization_id, kind, today, ids) for provider in providers]
    return " UNION ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]
