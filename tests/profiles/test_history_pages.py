"""A profile's history in keyset pages, of all its fields or of one: newest first, every row
once through the Older links, the field kept, and no OFFSET or COUNT in any query."""

from __future__ import annotations

import datetime as dt
import re

import lxml.html
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from profiles.models import FieldValueHistory
from tests import factories

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2030, 3, 1, 9, tzinfo=dt.UTC)


def _history(org, profile, field, n: int) -> None:
    with scopes_disabled():
        FieldValueHistory.objects.bulk_create(
            FieldValueHistory(
                organization=org,
                profile=profile,
                field=field,
                old_value=f"v{i}",
                new_value=f"v{i + 1}",
                source="staff",
                changed_at=T0 + dt.timedelta(hours=i),
            )
            for i in range(n)
        )


def _older(page) -> str | None:
    for anchor in lxml.html.fromstring(page.content).xpath("//nav[@class='pagination']//a"):
        if anchor.text_content().strip() == "Older":
            return anchor.get("href")
    return None


def test_a_fields_history_pages_through_its_rows_only(member_client, org):
    profile = factories.contact(org)
    job, other = factories.field(org, "text"), factories.field(org, "text")
    _history(org, profile, job, 110)
    _history(org, profile, other, 30)
    url = f"/o/{org.slug}/profiles/{profile.uuid}/history/"
    page = member_client.get(url, {"field": str(job.uuid)})
    seen = [row.pk for row in page.context["page"]]
    while (older := _older(page)) is not None:
        assert f"field={job.uuid}" in older
        page = member_client.get(url + older)
        assert page.status_code == 200
        seen += [row.pk for row in page.context["page"]]
    with scopes_disabled():
        expected = list(
            FieldValueHistory.objects.filter(profile=profile, field=job)
            .order_by("-changed_at", "-id")
            .values_list("pk", flat=True)
        )
    assert seen == expected and len(seen) == 110
    every = member_client.get(url)
    assert len(every.context["page"]) == 50 and _older(every) is not None


def test_the_history_page_reads_no_more_than_a_page(member_client, org):
    profile = factories.contact(org)
    field = factories.field(org, "text")
    _history(org, profile, field, 120)
    url = f"/o/{org.slug}/profiles/{profile.uuid}/history/"
    second = _older(member_client.get(url))
    for query in ("", f"?field={field.uuid}", second):
        with CaptureQueriesContext(connection) as queries:
            assert member_client.get(url + query).status_code == 200
        for sql in (q["sql"] for q in queries if "fieldvaluehistory" in q["sql"]):
            assert not re.search(r"\bOFFSET\b|COUNT\(", sql), sql
