"""The organisation's home: what needs attention now, runs in progress, coming requests;
and the header's search across contacts, companies and dossiers."""

from __future__ import annotations

from html import escape  # Django's wraps it for lazy strings; the chart's are plain str
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from dossiers import versions
from home import search, selectors
from monitoring import overview
from organizations import display
from organizations.http import OrganizationRequest
from organizations.lookups import search_query

# The chart's drawing box, in SVG units: one bar a day.
BAR_WIDTH = 14
BAR_GAP = 4
CHART_HEIGHT = 80


def home(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    today = timezone.localdate()
    organization = request.organization
    # Read with the memberships (monitoring.overview.of_request), before any count cached
    # under it, for all of them.
    version = overview.of_request(request)
    if version is overview.UNREAD:
        version = overview.current_version(organization.pk)
    groups = selectors.active_groups(organization)
    coming = selectors.coming_requests(organization, today, overview_version=version, groups=groups)
    attention = selectors.attention(
        organization,
        today,
        overview_version=version,
        dossier_version=versions.of_request(request),
    )
    return render(
        request,
        "home/page.html",
        {
            "attention": attention,
            # The menu's badge counts the same dossiers as the tile: counted once.
            "to_review_count": attention.to_review,
            "runs": selectors.runs_in_progress(
                organization, overview_version=version, groups=groups
            ),
            "coming": coming,
            "chart": _chart(selectors.daily_totals(coming, today)),
            "horizon": selectors.HORIZON_DAYS,
        },
    )


def runs(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    """The runs in progress alone: what the home page polls while one is running."""
    return render(
        request,
        "home/runs.html",
        {"runs": selectors.runs_in_progress(request.organization)},
    )


def _chart(totals: list[tuple[Any, int]]) -> dict[str, Any]:
    peak = max((n for _, n in totals), default=0)
    bars = []
    for i, (day, n) in enumerate(totals):
        # A day with requests keeps at least two units, so a small one stays visible.
        height = max(2, round(n * CHART_HEIGHT / peak)) if n and peak else 0
        bars.append(
            {
                "day": day,
                "n": n,
                "x": i * (BAR_WIDTH + BAR_GAP),
                "y": CHART_HEIGHT - height,
                "height": height,
            }
        )
    return {
        "bars": bars,
        "svg": _bars_svg(bars),
        "peak": peak,
        "width": len(totals) * (BAR_WIDTH + BAR_GAP) - BAR_GAP,
        "height": CHART_HEIGHT,
        "bar_width": BAR_WIDTH,
        "total": sum(n for _, n in totals),
    }


def _bars_svg(bars: list[dict[str, Any]]) -> SafeString:
    """The chart's bars, a day's title, bar and (each week) label: what the page's template
    wrote in a loop of some dozen nodes a day, a large part of the page's time, written
    here (tests/home/test_chart.py checks it is the same HTML)."""
    label_format = "j b" if get_language() == "fr" else "j M"
    parts = []
    for i, bar in enumerate(bars):
        title = escape(f"{display.day(bar['day'])}: {display.number(bar['n'])}")
        if bar["height"]:
            rect = (
                f'<rect class="bar" x="{bar["x"]}" y="{bar["y"]}" width="{BAR_WIDTH}"'
                f' height="{bar["height"]}" rx="2"></rect>'
            )
        else:
            rect = (
                f'<rect class="bar-none" x="{bar["x"]}" y="{CHART_HEIGHT - 1}"'
                f' width="{BAR_WIDTH}" height="1"></rect>'
            )
        label = ""
        if i % 7 == 0:
            shown = escape(formats.date_format(bar["day"], label_format))
            label = f'<text class="bar-day" x="{bar["x"]}" y="{CHART_HEIGHT + 16}">{shown}</text>'
        parts.append(f"<g><title>{title}</title>{rect}{label}</g>")
    return mark_safe("".join(parts))  # noqa: S308 - every value above is escaped or a number


def search_page(request: OrganizationRequest, org_slug: str) -> HttpResponse:
    query = search_query(request)
    return render(
        request,
        "home/search.html",
        {"query": query, "results": search.everything(request.organization, query)},
    )
