"""The compliance overview: statuses against a plain reference, filters, export, lists."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers.models import Dossier, DossierItem
from monitoring import overview
from organizations.models import Organization
from profiles.models import FieldValue
from tests import factories

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 15)
_slugs = itertools.count()

# (has a value, expiry offset in days or None, dossiers as (status, days after value, open?))
cell = st.tuples(
    st.booleans(),
    st.one_of(st.none(), st.integers(-60, 60)),
    st.lists(
        st.tuples(
            st.sampled_from(["open", "in_progress", "to_review", "expired", "submitted"]),
            st.integers(-5, 5),
        ),
        max_size=2,
    ),
)


def reference(has_value, expires_on, evidenced_at, requests, now) -> str:
    """The rules of monitoring/overview.py, written plainly."""
    pending = [
        d
        for d in requests
        if (d.status in Dossier.OPEN_STATUSES and d.expires_at > now) or d.status == "to_review"
    ]
    if pending:
        return "requested"
    if requests:
        latest = max(requests, key=lambda d: d.created_at)
        if latest.status == "expired" and (
            evidenced_at is None or evidenced_at < latest.created_at
        ):
            return "overdue"
    if not has_value:
        return "missing"
    if expires_on is not None and expires_on < TODAY:
        return "expired"
    if expires_on is not None and expires_on <= TODAY + dt.timedelta(days=30):
        return "expiring"
    return "valid"


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cells=st.lists(st.lists(cell, min_size=2, max_size=2), min_size=1, max_size=5))
def test_the_statuses_match_a_plain_reference(db, cells):
    n = next(_slugs)
    org = Organization.objects.create(name=f"Org {n}", slug=f"org-{n}")
    fields = [factories.field(org, "text", label=f"F{i}") for i in range(2)]
    factories.field(org, "text", label="Not monitored")
    factories.group(org, fields)
    now = timezone.now()
    expected = {}
    with scopes_disabled():
        for p, row in enumerate(cells):
            profile = factories.contact(org, last_name=f"P{p:02d}")
            for field, (has_value, offset, requests) in zip(fields, row, strict=True):
                expires_on = TODAY + dt.timedelta(days=offset) if offset is not None else None
                evidenced_at = now - dt.timedelta(days=10)
                if has_value:
                    FieldValue.objects.create(
                        organization=org,
                        profile=profile,
                        field=field,
                        value="x",
                        expires_on=expires_on,
                        last_evidenced_at=evidenced_at,
                    )
                made = []
                for k, (status, days) in enumerate(requests):
                    dossier = Dossier.objects.create(
                        organization=org,
                        profile=profile,
                        kind="classic",
                        title=f"R{k}",
                        status=status,
                        created_at=evidenced_at + dt.timedelta(days=days, seconds=k),
                        expires_at=now + dt.timedelta(days=1 if k % 2 == 0 else -1),
                    )
                    DossierItem.objects.create(organization=org, dossier=dossier, field=field)
                    made.append(dossier)
                expected[(profile.pk, field.pk)] = reference(
                    has_value, expires_on, evidenced_at if has_value else None, made, now
                )
    # Built through the ORM, not the product's paths: the cells are computed once here.
    overview.refresh(org.pk)
    rows = overview.page(org.pk, overview.Filters(), TODAY, offset=0, limit=1000)
    assert {(r["profile_id"], r["field_id"]): r["status"] for r in rows} == expected
    counts = overview.counts(org.pk, overview.Filters(), TODAY)
    assert sum(counts.values()) == len(expected)
    for status in overview.STATUSES:
        assert counts[status] == sum(1 for s in expected.values() if s == status)
        assert overview.total(org.pk, overview.Filters(status=status), TODAY) == counts[status]


@pytest.fixture
def monitored(org):
    address = factories.field(org, "text", label="Address")
    proof = factories.field(org, "text", label="Proof", applies_to="company")
    factories.group(org, [address], title="People")
    factories.group(org, [proof], title="Firms", applies_to="company")
    initech = factories.company(org, name="Initech")
    ok = factories.contact(org, last_name="Valid", company=initech)
    late = factories.contact(org, last_name="Lapsed")
    factories.contact(org, last_name="Empty")
    with scopes_disabled():
        FieldValue.objects.create(organization=org, profile=ok, field=address, value="a")
        FieldValue.objects.create(
            organization=org,
            profile=late,
            field=address,
            value="b",
            expires_on=timezone.localdate() - dt.timedelta(days=1),
        )
    return {"initech": initech, "ok": ok, "late": late}


def test_the_page_counts_filters_and_links(member_client, org, monitored):
    url = f"/o/{org.slug}/monitoring/overview/"
    page = member_client.get(url)
    assert page.status_code == 200
    assert page.context["counts"] == {
        "valid": 1,
        "expiring": 0,
        "requested": 0,
        "overdue": 0,
        "expired": 1,
        "missing": 2,  # Empty's address, Initech's proof
    }
    assert member_client.get(url, {"status": "expired"}).context["page"].paginator.count == 1
    assert member_client.get(url, {"kind": "company"}).context["page"].paginator.count == 1
    company = member_client.get(url, {"company": str(monitored["initech"].uuid)})
    assert company.context["page"].paginator.count == 2  # the company and its contact
    assert member_client.get(url, {"q": "lapsed"}).context["page"].paginator.count == 1
    hostile = {"status": "<script>", "group": "x", "company": "y", "profile": "z"}
    assert member_client.get(url, hostile).status_code == 200


def test_the_page_takes_a_fixed_number_of_queries(
    member_client, org, monitored, django_assert_num_queries
):
    for i in range(30):
        factories.contact(org, last_name=f"More {i}")
    # Session, user, the memberships (with the organisation switcher's), the groups (once,
    # for the filter and the titles), the counts' version and the counts (no write
    # committed: nothing to key a cache on), the page's cells, the fields' labels, the
    # companies, the layout's review count.
    with django_assert_num_queries(10):
        member_client.get(f"/o/{org.slug}/monitoring/overview/")


def test_the_export_streams_every_filtered_cell(member_client, org, monitored):
    response = member_client.get(f"/o/{org.slug}/monitoring/overview.csv", {"kind": "contact"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1 + 3
    assert {r[4] for r in rows[1:]} == {"Valid", "Expired", "Missing"}


def test_an_open_request_links_the_dossier(member_client, org, monitored):
    with scopes_disabled():
        from profiles.models import DataField

        address = DataField.objects.get(label="Address")
    dossier = factories.dossier(org, monitored["late"], [address])
    page = member_client.get(f"/o/{org.slug}/monitoring/overview/", {"status": "requested"})
    assert str(dossier.uuid) in page.text


def test_the_lists_filter_and_flag_who_needs_attention(member_client, org, monitored):
    url = f"/o/{org.slug}/contacts/"
    everyone = member_client.get(url)
    assert monitored["late"].pk in everyone.context["flagged"]
    assert monitored["ok"].pk not in everyone.context["flagged"]
    attention = member_client.get(url, {"attention": "1"})
    names = {p.last_name for p in attention.context["page"]}
    assert names == {"Lapsed", "Empty"}
    assert "Needs attention" in attention.text


def test_the_overview_is_404_to_another_organisation(outsider_client, org):
    assert outsider_client.get(f"/o/{org.slug}/monitoring/overview/").status_code == 404


def test_the_matrix_shows_a_cell_per_profile_and_field(member_client, org, monitored):
    url = f"/o/{org.slug}/monitoring/overview/"
    page = member_client.get(url, {"view": "matrix"})
    assert page.status_code == 200
    rows = {
        r["company_name"] or r["last_name"]: [c and c["status"] for c in r["cells"]]
        for r in page.context["rows"]
    }
    labels = [f.label for f in page.context["columns"]]
    assert labels == ["Address", "Proof"]  # contacts' fields, then companies'
    assert rows == {
        "Empty": ["missing", None],
        "Initech": [None, "missing"],
        "Lapsed": ["expired", None],
        "Valid": ["valid", None],
    }
    # Each state is said in words too, not by its colour alone, and the legend names them.
    assert page.text.count('<span class="sr-only">Missing</span>') == 2
    assert "Not asked of this client" in page.text
    assert 'name="view" value="matrix"' in page.text


def test_the_matrix_keeps_the_filters(member_client, org, monitored):
    url = f"/o/{org.slug}/monitoring/overview/"
    expired = member_client.get(url, {"view": "matrix", "status": "expired"})
    assert [r["last_name"] for r in expired.context["rows"]] == ["Lapsed"]
    assert expired.context["page"].paginator.count == 1
    companies = member_client.get(url, {"view": "matrix", "kind": "company"})
    assert [f.label for f in companies.context["columns"]] == ["Proof"]
    assert [r["company_name"] for r in companies.context["rows"]] == ["Initech"]
    # The toggle and the tiles keep the filters and the layout.
    assert "view=matrix&amp;status=expired" in companies.text
    assert "?kind=company&amp;view=matrix" in companies.text or "view=matrix" in companies.text
    assert companies.context["list_query"] == "kind=company"


def test_the_matrix_is_paginated_by_profile(member_client, org, monitored, settings):
    for i in range(30):
        factories.contact(org, last_name=f"More {i:02d}")
    url = f"/o/{org.slug}/monitoring/overview/"
    first = member_client.get(url, {"view": "matrix"})
    assert first.context["page"].paginator.count == 34
    assert len(first.context["rows"]) == 25
    second = member_client.get(url, {"view": "matrix", "page": 2})
    assert len(second.context["rows"]) == 9
    assert "view=matrix" in first.text.split('class="pagination"')[1]


def _queries(client, url) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, {"view": "matrix"}).status_code == 200
    return len(captured.captured_queries)


def test_the_matrix_takes_the_same_queries_whatever_the_page_holds(
    member_client, org, monitored, monkeypatch
):
    url = f"/o/{org.slug}/monitoring/overview/"
    _queries(member_client, url)  # the session and the caches settle
    few = _queries(member_client, url)
    # More clients, more fields, more groups: the columns and group titles are read once.
    more = [factories.field(org, "text", label=f"Extra {i}") for i in range(4)]
    factories.group(org, more[:2], title="Second")
    factories.group(org, more[2:], title="Third")
    for i in range(30):
        factories.contact(org, last_name=f"More {i:02d}")
    _queries(member_client, url)
    assert _queries(member_client, url) == few
    assert few == 12
    # Whatever the page holds: 5 profiles or every one of them.
    for size in (5, 100):
        monkeypatch.setattr("monitoring.views.OVERVIEW_MATRIX_PAGE", size)
        assert _queries(member_client, url) == few


def test_the_matrix_is_404_to_another_organisation(outsider_client, org):
    url = f"/o/{org.slug}/monitoring/overview/?view=matrix"
    assert outsider_client.get(url).status_code == 404
