"""API lists and reads cost the same few queries whatever the number of rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories

pytestmark = pytest.mark.django_db


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_lists_do_not_grow_with_their_rows(api, org):
    job = factories.field(org, "text")
    company = factories.company(org)
    factories.contact(org, company=company)
    factories.dossier(org, factories.contact(org, email="a@example.com"), [job])
    factories.group(org, [job])
    urls = ["/api/v1/profiles/", "/api/v1/dossiers/", "/api/v1/fields/", "/api/v1/groups/"]
    api.get("/api/v1/fields/")  # the key's first use is written once
    few = {url: _queries(api, url) for url in urls}
    for i in range(10):
        profile = factories.contact(org, email=f"c{i}@example.com", company=company)
        factories.dossier(org, profile, [job])
        factories.field(org, "text")
        factories.group(org, [], title=f"G{i}")
    many = {url: _queries(api, url) for url in urls}
    assert many == few
    # The key and the page; its last use is written at most once a minute.
    assert few["/api/v1/profiles/"] == 2


def test_a_dossier_is_read_in_a_few_queries(api, org):
    fields = [factories.field(org, "text") for _ in range(8)]
    dossier = factories.dossier(org, factories.contact(org), fields)
    assert _queries(api, f"/api/v1/dossiers/{dossier.uuid}/") <= 5
