"""What the home page reads, each answer from a table kept current by the writes.

- The values overdue, expired, expiring and missing are the compliance overview's cells
  (`monitoring.overview.counts`, cached under the organisation's version until a write).
- Dossiers to review and those with an undeliverable e-mail are counted through the dossier
  list's own filters, so a count always equals the list its link opens.
- Runs in progress are the unfinished `UpdateRun` rows (a partial index keeps them few);
  their progress is the dossiers opened so far for the run's period.
- The coming requests are each active group's occurrences times the profiles it asks.

Nothing here scans values or requests: at 100,000 profiles the page stays a handful of
small queries (tests/home/test_home.py pins them).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count

from dossiers.filters import DossierFilterSet
from dossiers.models import Dossier
from monitoring import overview
from monitoring.models import OverviewState, UpdateGroup, UpdateRun
from monitoring.selectors import asked_by
from organizations.models import Organization
from profiles.models import Kind

# How far ahead the chart of coming requests looks.
HORIZON_DAYS = 30
# How long the profiles' counts by type may be served from the cache when no write has
# committed since (a write changes the version, so it is seen at once).
ASKED_SECONDS = 300


@dataclass(frozen=True)
class Attention:
    to_review: int
    overdue: int
    expired: int
    expiring: int
    missing: int
    undeliverable: int


@dataclass(frozen=True)
class RunProgress:
    group: UpdateGroup
    period: dt.date
    opened: int
    expected: int

    @property
    def percent(self) -> int:
        if not self.expected:
            return 0
        return min(100, self.opened * 100 // self.expected)


@dataclass(frozen=True)
class Coming:
    day: dt.date
    group: UpdateGroup
    requests: int


def _dossiers(organization: Organization, **filters: str) -> int:
    queryset = Dossier.objects.filter(organization=organization)
    counted: int = DossierFilterSet(filters, queryset=queryset).qs.count()
    return counted


def attention(organization: Organization, today: dt.date) -> Attention:
    cells = overview.counts(organization.pk, overview.Filters(), today)
    return Attention(
        to_review=_dossiers(organization, status=Dossier.Status.TO_REVIEW),
        overdue=cells["overdue"],
        expired=cells["expired"],
        expiring=cells["expiring"],
        missing=cells["missing"],
        undeliverable=_dossiers(organization, outstanding="true", undeliverable="true"),
    )


def asked_counts(organization: Organization) -> dict[str, int]:
    """How many active profiles of each type a group asks, cached under the overview's
    version: every write to a profile refreshes its cells and bumps it."""
    version = (
        OverviewState.objects.filter(organization_id=organization.pk)
        .values_list("version", flat=True)
        .first()
    )
    key = f"home-asked:{organization.pk}:{version}"
    found: dict[str, int] | None = cache.get(key) if version is not None else None
    if found is None:
        found = {kind: asked_by(organization, kind).count() for kind in Kind.values}
        if version is not None:
            cache.set(key, found, ASKED_SECONDS)
    return found


def runs_in_progress(organization: Organization) -> list[RunProgress]:
    runs = list(
        UpdateRun.objects.filter(organization=organization, finished_at__isnull=True)
        .select_related("group")
        .order_by("created_at", "id")
    )
    if not runs:
        return []
    opened: Counter[tuple[int | None, dt.date | None]] = Counter()
    rows = (
        Dossier.objects.filter(
            organization=organization,
            update_group_id__in={run.group_id for run in runs},
            period__in={run.period for run in runs},
        )
        .values("update_group_id", "period")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        opened[(row["update_group_id"], row["period"])] = row["n"]
    asked = asked_counts(organization)
    return [
        RunProgress(
            group=run.group,
            period=run.period,
            opened=opened[(run.group_id, run.period)],
            # A run in progress asks today's active profiles (monitoring.selectors.asked_by).
            expected=max(asked.get(run.group.applies_to, 0), opened[(run.group_id, run.period)]),
        )
        for run in runs
    ]


def coming_requests(organization: Organization, today: dt.date) -> list[Coming]:
    """Each active group's occurrences from today to the horizon, with the number of
    requests each would open today (the active profiles of its type)."""
    end = today + dt.timedelta(days=HORIZON_DAYS)
    groups = [
        group
        for group in UpdateGroup.objects.filter(organization=organization, is_active=True)
        if group.next_date <= end
    ]
    if not groups:
        return []
    asked = asked_counts(organization)
    coming = []
    for group in groups:
        for day in group.upcoming(HORIZON_DAYS + 1):
            if day > end:
                break
            # A due occurrence not yet dispatched goes out at the next pass: today.
            coming.append(
                Coming(day=max(day, today), group=group, requests=asked.get(group.applies_to, 0))
            )
    return sorted(coming, key=lambda c: (c.day, c.group.title, c.group.pk))


def daily_totals(coming: list[Coming], today: dt.date) -> list[tuple[dt.date, int]]:
    """One bar a day from today to the horizon, zero included, for the chart."""
    totals: Counter[dt.date] = Counter()
    for item in coming:
        totals[item.day] += item.requests
    return [
        (day, totals[day])
        for day in (today + dt.timedelta(days=n) for n in range(HORIZON_DAYS + 1))
    ]
