"""The audit log in keyset pages: newest first, Older and Newer links that keep the filters,
and no query that reads the whole log (no OFFSET, no COUNT) whatever its size."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from organizations.models import AuditEntry

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2030, 3, 1, 9, tzinfo=dt.UTC)


def _entries(org, n: int, action: str = "profiles.profile.created", ties: int = 0) -> None:
    """n entries a minute apart, then `ties` more at the moment of the 60th newest."""
    with scopes_disabled():
        AuditEntry.objects.bulk_create(
            AuditEntry(
                organization=org, action=action, target=f"E{i}", at=T0 + dt.timedelta(minutes=i)
            )
            for i in range(n)
        )
        AuditEntry.objects.bulk_create(
            AuditEntry(
                organization=org,
                action=action,
                target=f"T{i}",
                at=T0 + dt.timedelta(minutes=n - 60),
            )
            for i in range(ties)
        )


def _targets(page) -> list[str]:
    return [entry.target for entry in page.context["page"]]


def _link(page, label: str) -> str | None:
    for anchor in lxml.html.fromstring(page.content).xpath("//nav[@class='pagination']//a"):
        if anchor.text_content().strip() == label:
            return anchor.get("href")
    return None


def _follow(client, org, href: str):
    return client.get(f"/o/{org.slug}/settings/audit/{href}")


def test_the_log_pages_older_and_newer_through_every_entry_once(owner_client, org):
    _entries(org, 120, ties=3)
    url = f"/o/{org.slug}/settings/audit/"
    first = owner_client.get(url)
    assert _link(first, "Newer") is None and _link(first, "Newest") is None
    seen = _targets(first)
    page = first
    while (older := _link(page, "Older")) is not None:
        page = _follow(owner_client, org, older)
        assert page.status_code == 200
        seen += _targets(page)
    # Every entry once, newest first, the three of one moment after the 60th newest in
    # the order of their ids (the newest id first).
    with scopes_disabled():
        expected = list(
            AuditEntry.objects.filter(organization=org)
            .order_by("-at", "-id")
            .values_list("target", flat=True)
        )
    assert seen == expected and len(seen) >= 123
    # Back again: Newer shows the page before, Newest the first.
    newer = _follow(owner_client, org, _link(page, "Newer"))
    assert _targets(newer) == expected[50:100]
    assert _targets(_follow(owner_client, org, _link(page, "Newest"))) == expected[:50]
    # Newer from the second page is the first page, with no Newer link of its own.
    second = _follow(owner_client, org, _link(first, "Older"))
    back = _follow(owner_client, org, _link(second, "Newer"))
    assert _targets(back) == expected[:50] and _link(back, "Newer") is None


def test_the_links_keep_the_filters(owner_client, org):
    _entries(org, 70, action="profiles.profile.created")
    _entries(org, 5, action="profiles.profile.archived")
    page = owner_client.get(
        f"/o/{org.slug}/settings/audit/", {"action": "profiles.profile.created"}
    )
    older = _link(page, "Older")
    assert older is not None
    query = parse_qs(urlsplit(older).query)
    assert query["action"] == ["profiles.profile.created"] and "before" in query
    rest = _follow(owner_client, org, older)
    assert len(_targets(rest)) == 20
    assert {e.action for e in rest.context["page"]} == {"profiles.profile.created"}


@pytest.mark.parametrize(
    "cursor", ["before=x", "before=1.2.3", "after=99999999999999999999.1", "before="]
)
def test_a_cursor_not_ours_shows_the_newest_page(owner_client, org, cursor):
    _entries(org, 60)
    page = owner_client.get(f"/o/{org.slug}/settings/audit/?{cursor}")
    assert page.status_code == 200
    assert len(_targets(page)) == 50


def test_no_query_reads_the_whole_log(owner_client, owner, org):
    """Neither OFFSET nor COUNT: the page reads its rows and one more, from an index."""
    _entries(org, 120)
    url = f"/o/{org.slug}/settings/audit/"
    second = _link(owner_client.get(url), "Older")
    for href in ("", second, "?since=2030-03-01&until=2030-03-01", f"?user={owner.pk}"):
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(url + (href or "")).status_code == 200
        reads = [q["sql"] for q in queries if "audit" in q["sql"] and "SELECT" in q["sql"]]
        assert reads
        for sql in reads:
            assert not re.search(r"\bOFFSET\b|COUNT\(", sql), sql


@pytest.mark.parametrize(
    "dates",
    ["until=9999-12-31", "since=9999-12-31&until=9999-12-31", "since=0001-01-01&until=0001-01-01"],
)
def test_the_calendars_first_and_last_days_are_filters_not_errors(owner_client, org, dates):
    _entries(org, 3)
    page = owner_client.get(f"/o/{org.slug}/settings/audit/?{dates}")
    assert page.status_code == 200
    everything = _targets(owner_client.get(f"/o/{org.slug}/settings/audit/"))
    nothing = "since=9999" in dates or "until=0001" in dates
    assert _targets(page) == ([] if nothing else everything)
