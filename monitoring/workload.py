"""What a group will ask of clients and staff in the coming days: requests a day (its
occurrences, spread over their windows) and the reviews those answers will bring.

The profiles counted are the group's audience today (`group_audience`): who joins or leaves
it later moves the figures, which are a forecast. A rolling or tiered group counts each
profile on its own due day (its schedule row). Reviews assume every client answers,
evenly over the month a request stays open, and start from the group's queue as it is.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from dossiers.models import Dossier
from monitoring import spread
from monitoring.models import PER_PROFILE, ProfileSchedule, UpdateGroup
from monitoring.selectors import group_audience

HORIZON_DAYS = 90
# The days an answer to a request is expected in, evenly (a request lives a month).
ANSWER_DAYS = 30

# The chart's drawing box, in SVG units: one bar a day.
BAR_WIDTH = 6
BAR_GAP = 2
CHART_HEIGHT = 80


def counts_by_day(profiles: Any, days: int) -> list[int]:
    """How many of `profiles` fall on each day of a window of `days` (one count unspread)."""
    if days <= 1:
        return [profiles.count()]
    counts = [0] * days
    rows = (
        profiles.order_by()
        .annotate(spread_day=spread.SpreadDay("uuid", days))
        .values("spread_day")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts[row["spread_day"]] = row["n"]
    return counts


def occurrence_load(period: dt.date, counts: list[int]) -> list[tuple[dt.date, int]]:
    """The requests of one occurrence by day: on its date, or over its window."""
    if len(counts) == 1:
        return [(period, counts[0])]
    return list(zip(spread.window(period, len(counts)), counts, strict=True))


def asked_count(group: UpdateGroup, period: dt.date) -> int:
    """How many profiles a run asks: a calendar group's audience, a rolling or tiered group's
    profiles asked on the run's day."""
    if group.cadence in PER_PROFILE:
        return ProfileSchedule.objects.filter(group=group, asked_on=period).count()
    return group_audience(group).count()


def due_by_day(group_ids: list[int], today: dt.date, end: dt.date) -> dict[int, Counter[dt.date]]:
    """{group id: {day: profiles due}} of rolling and tiered groups up to `end` (one query):
    each profile on its own due day, a day passed and not asked yet on today."""
    found: dict[int, Counter[dt.date]] = defaultdict(Counter)
    if not group_ids:
        return found
    rows = (
        ProfileSchedule.objects.filter(group_id__in=group_ids, due_on__lte=end)
        .values("group_id", "due_on")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        found[row["group_id"]][max(row["due_on"], today)] += row["n"]
    return found


@dataclass(frozen=True)
class Day:
    day: dt.date
    requests: int
    reviews: int


def group_load(group: UpdateGroup, today: dt.date, horizon: int = HORIZON_DAYS) -> list[Day]:
    """One entry a day from today for `horizon` days (two or three queries)."""
    end = today + dt.timedelta(days=horizon - 1)
    requests: Counter[dt.date] = Counter()
    if group.is_active and group.cadence in PER_PROFILE:
        # Each profile on its own due day, not the whole audience on the group's dates.
        requests.update(due_by_day([group.pk], today, end)[group.pk])
    elif group.is_active:
        counts = counts_by_day(group_audience(group), group.spread_days)
        index = group.next_index
        while True:
            try:
                period = group.occurrence(index)
            except (OverflowError, ValueError):
                break
            if period > end:
                break
            for day, n in occurrence_load(period, counts):
                # A date passed and not dispatched yet goes out at the next pass; a spread
                # window's days passed were asked already.
                if day < today and len(counts) > 1:
                    continue
                if max(day, today) <= end:
                    requests[max(day, today)] += n
            index += 1
    reviews: dict[dt.date, float] = defaultdict(float)
    if group.review_required:
        reviews[today] = Dossier.objects.filter(
            update_group=group, status=Dossier.Status.TO_REVIEW
        ).count()
        for day, n in requests.items():
            for offset in range(1, ANSWER_DAYS + 1):
                reviews[day + dt.timedelta(days=offset)] += n / ANSWER_DAYS
    days = (today + dt.timedelta(days=i) for i in range(horizon))
    return [Day(day, requests[day], round(reviews.get(day, 0))) for day in days]


def chart(days: list[Day]) -> dict[str, Any]:
    """The bars of a workload, requests below and expected reviews stacked above."""
    peak = max((d.requests + d.reviews for d in days), default=0)
    bars = []
    for i, d in enumerate(days):
        total = d.requests + d.reviews
        # A day with work keeps at least two units, so a small one stays visible.
        height = max(2, round(total * CHART_HEIGHT / peak)) if total and peak else 0
        review_height = round(height * d.reviews / total) if total else 0
        bars.append(
            {
                "day": d.day,
                "requests": d.requests,
                "reviews": d.reviews,
                "x": i * (BAR_WIDTH + BAR_GAP),
                "y": CHART_HEIGHT - height,
                "height": height - review_height,
                "review_height": review_height,
                "request_y": CHART_HEIGHT - height + review_height,
            }
        )
    return {
        "bars": bars,
        "peak": peak,
        "width": len(days) * (BAR_WIDTH + BAR_GAP) - BAR_GAP,
        "height": CHART_HEIGHT,
        "bar_width": BAR_WIDTH,
        "requests": sum(d.requests for d in days),
        "reviews": sum(d.reviews for d in days),
        "busy": [d for d in days if d.requests or d.reviews],
    }
