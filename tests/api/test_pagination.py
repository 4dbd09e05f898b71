"""A cursor is the client's to send back, so it is input like any other: never a 500."""

from __future__ import annotations

import base64
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitoring.models import UpdateRun
from tests import factories

pytestmark = pytest.mark.django_db


def _cursor(fields: dict[str, str]) -> str:
    return base64.b64encode(urlencode(fields).encode()).decode()


_positions = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.dates().map(str),
    st.datetimes().map(str),
    st.datetimes(timezones=st.timezones()).map(str),
    st.sampled_from(["9999-12-31 23:59:59-14:00", "0001-01-01 00:00:00+14:00", "2026-02-30"]),
)
_decoded = st.fixed_dictionaries(
    {},
    optional={
        "o": st.one_of(st.integers(-5, 10**20).map(str), st.text(max_size=5)),
        "r": st.sampled_from(["0", "1", "x", ""]),
        "p": _positions,
    },
).map(_cursor)
_cursors = st.one_of(_decoded, st.text(max_size=60))


@pytest.fixture
def pages(api, org) -> list[str]:
    for i in range(3):
        factories.contact(org, last_name=f"P{i}", email=f"p{i}@example.com")
        factories.field(org, label=f"Field {i}")
    group = factories.group(org)
    with scopes_disabled():
        for i in range(3):
            UpdateRun.objects.create(
                organization=org,
                group=group,
                period=f"2026-0{i + 1}-01",
                index=i,
                due_at="2026-01-01T00:00:00Z",
            )
    return ["/api/v1/profiles/", "/api/v1/fields/", f"/api/v1/groups/{group.uuid}/runs/"]


def test_a_crafted_cursor_is_a_404_never_a_500(api, pages):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @example(cursor=_cursor({"p": "tomorrow"}))
    @example(cursor=_cursor({"p": "9999-12-31 23:59:59-14:00"}))
    @example(cursor=_cursor({"p": "99999999999999999999"}))
    @example(cursor=_cursor({"p": "2026-01-01 00:00:00"}))
    @example(cursor=_cursor({"p": "a\x00b"}))
    @given(cursor=_cursors)
    def check(cursor: str) -> None:
        cache.clear()  # the key's rate is not what this tests
        for url in pages:
            response = api.get(url, {"cursor": cursor, "page_size": 2})
            assert response.status_code in (200, 404), (url, cursor, response.status_code)

    check()


def test_the_cursors_the_api_hands_out_still_work(api, pages):
    for url in pages:
        seen = []
        next_url: str | None = f"{url}?page_size=2"
        while next_url:
            body = api.get(next_url).json()
            seen += body["results"]
            next_url = body["next"]
        assert len(seen) == 3, url
