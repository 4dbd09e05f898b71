"""The back office's lists and the API filter through the same filtersets: same answers."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests import factories

pytestmark = pytest.mark.django_db


def test_profiles_are_filtered_alike(api, member_client, org):
    factories.contact(org, first_name="Ada", last_name="Lovelace", email="ada@example.com")
    factories.contact(org, first_name="Alan", last_name="Turing", email="alan@example.com")
    factories.contact(org, last_name="Gone", email="ada.g@example.com", archived_at=timezone.now())
    for query in ("q=ada", "q=ada&status=archived", "q=ada&status=all", "status=bogus", ""):
        page = member_client.get(f"/o/{org.slug}/contacts/?{query}").context["page"]
        listed = api.get(f"/api/v1/profiles/?kind=contact&{query}").json()["results"]
        assert sorted(p.last_name for p in page) == sorted(p["last_name"] for p in listed), query


def test_fields_are_filtered_alike(api, owner_client, org):
    factories.field(org, "text", label="Kept")
    factories.field(org, "text", label="Old", archived_at=timezone.now())
    for query, expected in (("", ["Kept"]), ("archived=1", ["Old"]), ("archived=true", ["Old"])):
        page = owner_client.get(f"/o/{org.slug}/settings/fields/contacts/?{query}")
        listed = api.get(f"/api/v1/fields/?applies_to=contact&{query}").json()["results"]
        assert [f.label for f in page.context["fields"]] == expected, query
        assert [f["label"] for f in listed] == expected, query


def test_dossiers_are_filtered_alike(api, member_client, org):
    job = factories.field(org, "text")
    ada = factories.contact(org, last_name="Lovelace", email="a@example.com")
    factories.dossier(org, ada, [job], title="Yearly")
    factories.dossier(org, factories.contact(org, email="b@example.com"), [job], title="Other")
    for query in ("q=lovelace", "q=yearly", "status=open", "status=approved", "kind=update", ""):
        page = member_client.get(f"/o/{org.slug}/dossiers/?{query}").context["page"]
        listed = api.get(f"/api/v1/dossiers/?{query}").json()["results"]
        assert sorted(str(d.uuid) for d in page) == sorted(d["uuid"] for d in listed), query
