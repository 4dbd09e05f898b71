"""What the home page reads, each answer from a table kept current by the writes.

- The values overdue, expired, expiring and missing are the compliance overview's cells
  (`monitoring.overview.counts`, cached under the organisation's version until a write).
- Dossiers to review and those with an undeliverable e-mail are counted through the
  selectors the dossier list's filters apply, so a count always equals the list its link
  opens; the first under the organisation's version of its dossiers (`dossiers.versions`).
- Runs in progress are the unfinished `UpdateRun` rows (a partial index keeps them few);
  their progress is the dossiers opened so far for the run's period.
- The coming requests are each active group's occurrences times the profiles it asks
  (`monitoring.selectors.group_audience`), by day of its spread window if it has one.

Nothing here scans values or requests: at 100,000 profiles the page stays a handful of
small queries (tests/home/test_home.py pins them).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Count
from django_scopes import scopes_disabled

from dossiers import selectors as dossier_selectors
from dossiers import versions as dossier_versions
from dossiers.models import Dossier
from monitoring import overview, workload
from monitoring.models import PER_PROFILE, ProfileSchedule, UpdateGroup, UpdateRun
from monitoring.selectors import group_audience
from organizations.models import Organization

# How far ahead the chart of coming requests looks.
HORIZON_DAYS = 30
# How long the profiles' counts by type may be served from the cache when no write has
# committed since (a write changes the version, so it is seen at once).
ASKED_SECONDS = 300

# The overview's version not read yet (None is a version not yet created): a page reads it
# once and hands it to each count cached under it.
UNREAD: EllipsisType = ...


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


# The organisation the undeliverable count is compiled for, replaced by the page's own at
# each count: no organisation has a negative id.
ANY_ORGANIZATION = -1


@functools.cache
def _undeliverable_statement() -> tuple[str, tuple[Any, ...]]:
    """The dossier list's `?outstanding=true&undeliverable=true`, through the selectors its
    filters apply (without building the filters' form), compiled by the ORM once a process:
    building and compiling it took most of the count's time on every home page, the query
    itself a tenth of a millisecond."""
    # Compiled only, for no organisation: each count binds its own (`_undeliverable`).
    with scopes_disabled():
        ids = (
            Dossier.objects.filter(organization_id=ANY_ORGANIZATION)
            .running()
            .filter(id__in=dossier_selectors.refused_ids())
            .order_by()
            .values("id")
        )
    sql, params = ids.query.get_compiler(connection=connection).as_sql()
    if list(params).count(ANY_ORGANIZATION) != 1:
        raise ImproperlyConfigured("The undeliverable count must bind its organisation once.")
    return f"SELECT COUNT(*) FROM ({sql}) counted", tuple(params)  # noqa: S608 - the ORM's


def _undeliverable(organization: Organization) -> int:
    # Read on the primary, as the layout's counts are (a raw statement is not routed).
    sql, params = _undeliverable_statement()
    bound = list(params)
    bound[bound.index(ANY_ORGANIZATION)] = organization.pk
    with connection.cursor() as cursor:
        cursor.execute(sql, bound)
        counted: int = cursor.fetchone()[0]
    return counted


def attention(
    organization: Organization,
    today: dt.date,
    *,
    overview_version: int | EllipsisType | None = UNREAD,
    dossier_version: int | EllipsisType | None = dossier_versions.UNREAD,
) -> Attention:
    """`dossier_version` is the one read with the request's membership (`dossiers.versions`)."""
    if overview_version is UNREAD:
        overview_version = overview.current_version(organization.pk)
    cells = overview.counts(organization.pk, overview.Filters(), today, version=overview_version)
    return Attention(
        # The review queue's own count, as its link opens it; the layout's badge shows it too.
        to_review=dossier_selectors.to_review_count(organization, version=dossier_version),
        overdue=cells["overdue"],
        expired=cells["expired"],
        expiring=cells["expiring"],
        missing=cells["missing"],
        undeliverable=_undeliverable(organization),
    )


def asked_counts(
    organization: Organization,
    groups: list[UpdateGroup],
    *,
    overview_version: int | EllipsisType | None = UNREAD,
) -> dict[int, list[int]]:
    """How many profiles each group asks, by day of its spread window (one count if it has
    none), cached under the overview's version: every write to a profile or a value
    refreshes its cells and bumps it. Groups asking alike share one count."""
    version = (
        overview.current_version(organization.pk)
        if overview_version is UNREAD
        else overview_version
    )
    found: dict[int, list[int]] = {}
    computed: dict[str, list[int]] = {}
    for group in groups:
        alike = f"{group.applies_to}:{group.spread_days}:{json.dumps(group.audience)}"
        digest = hashlib.sha256(alike.encode()).hexdigest()[:32]
        key = f"home-asked:{organization.pk}:{version}:{digest}"
        counts = computed.get(key)
        if counts is None and version is not None:
            counts = cache.get(key)
        if counts is None:
            counts = workload.counts_by_day(group_audience(group), group.spread_days)
            if version is not None:
                cache.set(key, counts, ASKED_SECONDS)
        computed[key] = found[group.pk] = counts
    return found


def active_groups(organization: Organization) -> list[UpdateGroup]:
    """The groups that ask: the coming requests', and most runs' in progress."""
    return list(
        UpdateGroup.objects.filter(organization=organization, is_active=True).select_related("due")
    )


def runs_in_progress(
    organization: Organization,
    *,
    overview_version: int | EllipsisType | None = UNREAD,
    groups: list[UpdateGroup] | None = None,
) -> list[RunProgress]:
    """`groups`, the page's groups read already (`active_groups`): a run's group is taken
    from them, read only when not among them (paused while its run goes on); without
    them, with the runs."""
    unfinished = UpdateRun.objects.filter(organization=organization, finished_at__isnull=True)
    if groups is None:
        unfinished = unfinished.select_related("group")
    runs = list(unfinished.order_by("created_at", "id"))
    if not runs:
        return []
    if groups is not None:
        known = {group.pk: group for group in groups}
        if missing := {run.group_id for run in runs} - known.keys():
            known.update(UpdateGroup.objects.filter(organization=organization).in_bulk(missing))
        for run in runs:
            run.group = known[run.group_id]
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
    calendar = {run.group_id: run.group for run in runs if run.group.cadence not in PER_PROFILE}
    asked = {
        group_id: sum(counts)
        for group_id, counts in asked_counts(
            organization, list(calendar.values()), overview_version=overview_version
        ).items()
    }
    per_profile = [run for run in runs if run.group_id not in calendar]
    day_asked: dict[tuple[int, dt.date | None], int] = {}
    if per_profile:
        # A rolling or tiered group's run asks the profiles due that day, not its audience.
        scheduled = (
            ProfileSchedule.objects.filter(
                organization_id=organization.pk,
                group_id__in={run.group_id for run in per_profile},
                asked_on__in={run.period for run in per_profile},
            )
            .values("group_id", "asked_on")
            .annotate(n=Count("id"))
            .order_by()
        )
        for entry in scheduled:
            day_asked[(entry["group_id"], entry["asked_on"])] = entry["n"]
    return [
        RunProgress(
            group=run.group,
            period=run.period,
            opened=opened[(run.group_id, run.period)],
            # A run in progress asks the group's audience as it is today.
            expected=max(
                asked[run.group_id]
                if run.group_id in calendar
                else day_asked.get((run.group_id, run.period), 0),
                opened[(run.group_id, run.period)],
            ),
        )
        for run in runs
    ]


def coming_requests(
    organization: Organization,
    today: dt.date,
    *,
    overview_version: int | EllipsisType | None = UNREAD,
    groups: list[UpdateGroup] | None = None,
) -> list[Coming]:
    """Each active group's occurrences from today to the horizon, with the number of
    requests each would open today (the profiles its audience holds); `groups`, the
    active groups when read already (`active_groups`)."""
    end = today + dt.timedelta(days=HORIZON_DAYS)
    active = active_groups(organization) if groups is None else groups
    rolling = [group for group in active if group.cadence in PER_PROFILE]
    calendar = [group for group in active if group not in rolling and group.next_date <= end]
    coming = []
    if rolling:
        # Each profile of a rolling or tiered group on its own due day.
        due = workload.due_by_day([group.pk for group in rolling], today, end)
        for group in rolling:
            for day, n in due[group.pk].items():
                coming.append(Coming(day=day, group=group, requests=n))
    if not calendar:
        return sorted(coming, key=lambda c: (c.day, c.group.title, c.group.pk))
    asked = asked_counts(organization, calendar, overview_version=overview_version)
    for group in calendar:
        counts = asked[group.pk]
        for period in group.upcoming(HORIZON_DAYS + 1):
            if period > end:
                break
            for day, n in workload.occurrence_load(period, counts):
                # A spread window's days passed were asked already.
                if (day < today and len(counts) > 1) or day > end:
                    continue
                # A due occurrence not yet dispatched goes out at the next pass: today.
                coming.append(Coming(day=max(day, today), group=group, requests=n))
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
