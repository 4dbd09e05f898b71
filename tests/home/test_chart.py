"""The home's chart of coming requests, written in Python: the same HTML as the template
loop it replaced, in both languages, whatever the days and counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import engines
from django.utils import translation

from home.views import _chart
from organizations.display import style_of

# The loop the page's template held, kept here as the reference.
LOOP = engines["django"].from_string(
    "{% load display i18n %}{% get_current_language as LANGUAGE_CODE %}"
    "{% for bar in chart.bars %}<g><title>{{ bar.day|day }}: {{ bar.n|number }}</title>"
    '{% if bar.height %}<rect class="bar" x="{{ bar.x }}" y="{{ bar.y }}"'
    ' width="{{ chart.bar_width }}" height="{{ bar.height }}" rx="2"></rect>'
    '{% else %}<rect class="bar-none" x="{{ bar.x }}" y="{{ chart.height|add:-1 }}"'
    ' width="{{ chart.bar_width }}" height="1"></rect>{% endif %}'
    "{% if forloop.counter0|divisibleby:7 %}"
    '<text class="bar-day" x="{{ bar.x }}" y="{{ chart.height|add:16 }}">'
    '{% if LANGUAGE_CODE == "fr" %}{{ bar.day|date:"j b" }}'
    '{% else %}{{ bar.day|date:"j M" }}{% endif %}</text>{% endif %}</g>{% endfor %}'
)


class _Org:
    def __init__(self, style: str) -> None:
        self.date_style = style


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("style", ["dmy", "iso", "mdy"])
def test_the_bars_are_the_template_loops_html(language, style):
    start = dt.date(2028, 2, 20)  # across a leap day and a month's end
    counts = [0, 1, 12_345, 0, 7, 1_000_000] + [i * 3 % 11 for i in range(25)]
    totals = [(start + dt.timedelta(days=i), n) for i, n in enumerate(counts)]
    with translation.override(language), style_of(_Org(style)):
        chart = _chart(totals)
        assert str(chart["svg"]) == LOOP.render({"chart": chart})
        assert chart["svg"].count("<g>") == 31 and chart["svg"].count("bar-day") == 5


def test_a_chart_of_no_requests_draws_only_baselines():
    totals = [(dt.date(2026, 12, 31) + dt.timedelta(days=i), 0) for i in range(31)]
    with translation.override("en"):
        chart = _chart(totals)
        assert str(chart["svg"]) == LOOP.render({"chart": chart})
        assert 'class="bar"' not in chart["svg"]
