"""The outstanding list's and the overview's rows, rendered in Python, are the HTML the
template wrote for them, every value escaped alike."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from django.template import Context, Template
from django.utils import translation

from monitoring.rows import outstanding_html, overview_html

# The rows as the templates wrote them before they were rendered in Python.
OUTSTANDING_TEMPLATE = """{% load i18n display rows %}
{% for last, first, company, profile_uuid, state_label, opened_at, ref, email in page %}
  <tr>
    <td><a href="{% row_url 'profiles:detail' slug profile_uuid %}">{% if company %}{{ company }}{% else %}{{ first }} {{ last }}{% endif %}</a></td>
    <td>{{ state_label }}{% if ref in unreached %} <span class="badge bad">{% translate "Not reached: address failing" %}</span>{% endif %}</td>
    <td>{{ opened_at|moment|default:"—" }}</td>
    <td><a href="{% row_url 'dossiers:record' slug ref %}">{% translate "Dossier" %}</a></td>
  </tr>
{% endfor %}"""  # noqa: E501
OVERVIEW_TEMPLATE = """{% load i18n display rows %}
{% for cell in page %}
  <tr>
    <td><a href="{% row_url 'profiles:detail' slug cell.profile_uuid %}">{% if cell.company_name %}{{ cell.company_name }}{% else %}{{ cell.first_name }} {{ cell.last_name }}{% endif %}</a></td>
    <td>{{ cell.field_label }}</td>
    <td>{{ cell.group_title }}</td>
    <td>{% if cell.status_label %}<span class="badge {{ cell.badge }}">{{ cell.status_label }}</span>{% endif %}</td>
    <td>{{ cell.expires_on|day|default:"—" }}</td>
    <td>{% if cell.open_dossier %}<a href="{% row_url 'dossiers:detail' slug cell.open_dossier %}">{% translate "Open request" %}</a>{% elif cell.overdue_dossier %}<a href="{% row_url 'dossiers:detail' slug cell.overdue_dossier %}">{% translate "Unanswered request" %}</a>{% endif %}</td>
  </tr>
{% endfor %}"""  # noqa: E501

HOSTILE = "<b>\"Ça\" & 'co'</b>"


def _tight(html: str) -> str:
    return re.sub(r">\s+<", "><", html.strip())


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_outstanding_rows_are_the_template_s(language):
    unreached = uuid.uuid4()
    rows = [
        ("Doe", "Jane", "", uuid.uuid4(), "Sent, not opened", None, uuid.uuid4(), "j@x.org"),
        (HOSTILE, HOSTILE, "", uuid.uuid4(), HOSTILE, dt.datetime(2027, 3, 1, 9, 5, tzinfo=dt.UTC),
         unreached, ""),
        ("", "", HOSTILE, uuid.uuid4(), "Draft", None, uuid.uuid4(), ""),
    ]  # fmt: skip
    with translation.override(language):
        expected = Template(OUTSTANDING_TEMPLATE).render(
            Context({"page": rows, "slug": "acme", "unreached": {unreached}})
        )
        assert outstanding_html("acme", rows, {unreached}) == _tight(expected)
        assert "&lt;b&gt;" in expected and "<b>" not in expected


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_overview_rows_are_the_template_s(language):
    def cell(**values):
        return {
            "profile_uuid": str(uuid.uuid4()),
            "company_name": "",
            "first_name": "Jane",
            "last_name": "Doe",
            "field_label": "Address",
            "group_title": "KYC",
            "status_label": "Valid",
            "badge": "ok",
            "expires_on": dt.date(2027, 3, 1),
            "open_dossier": None,
            "overdue_dossier": None,
            **values,
        }

    cells = [
        cell(),
        cell(first_name=HOSTILE, last_name=HOSTILE, field_label=HOSTILE, group_title=HOSTILE),
        cell(company_name=HOSTILE, expires_on=None, status_label="", open_dossier=uuid.uuid4()),
        cell(status_label=HOSTILE, badge="bad", overdue_dossier=str(uuid.uuid4())),
    ]
    with translation.override(language):
        expected = Template(OVERVIEW_TEMPLATE).render(Context({"page": cells, "slug": "acme"}))
        assert overview_html("acme", cells) == _tight(expected)
        assert "&lt;b&gt;" in expected and "<b>" not in expected
