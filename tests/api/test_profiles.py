"""Profiles and their values through the API, with the back office's rules."""

from __future__ import annotations

import json

import pytest
from django_scopes import scopes_disabled

from profiles.models import FieldValue, FieldValueHistory, Profile
from tests import factories

pytestmark = pytest.mark.django_db


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def _patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def test_a_contact_is_created_and_read_back(api, org):
    company = factories.company(org)
    response = _post(
        api,
        "/api/v1/profiles/",
        {
            "kind": "contact",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "company": str(company.uuid),
            "is_representative": True,
        },
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    with scopes_disabled():
        profile = Profile.objects.get(uuid=created["uuid"])
    assert profile.organization == org and profile.company == company
    assert api.get(f"/api/v1/profiles/{profile.uuid}/").json()["company"] == str(company.uuid)


def test_validation_errors_come_in_one_shape_on_their_fields(api):
    response = _post(
        api,
        "/api/v1/profiles/",
        {"kind": "contact", "email": "not an address", "is_representative": True, "name": "X"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert {e["attr"] for e in body["errors"]} == {"email"}
    response = _post(
        api, "/api/v1/profiles/", {"kind": "contact", "is_representative": True, "name": "X"}
    )
    attrs = {e["attr"] for e in response.json()["errors"]}
    assert attrs == {"name", "last_name", "email", "is_representative"}
    with scopes_disabled():
        assert not Profile.objects.exists()


def test_the_list_filters_and_searches_like_the_back_office(api, org, other_org):
    factories.contact(org, first_name="Ada", last_name="Lovelace", email="ada@example.com")
    factories.contact(org, first_name="Alan", last_name="Turing", email="alan@example.com")
    factories.contact(other_org, first_name="Ada", last_name="Other", email="o@example.com")
    gone = factories.contact(org, first_name="Ada", last_name="Gone", email="g@example.com")
    gone.archived_at = gone.created_at
    gone.save()
    factories.company(org, name="Ada Industries")

    def names(query: str) -> list[str]:
        response = api.get(f"/api/v1/profiles/?{query}")
        assert response.status_code == 200
        return sorted(p["last_name"] or p["name"] for p in response.json()["results"])

    assert names("q=ada") == ["Ada Industries", "Lovelace"]
    assert names("q=ada&kind=contact") == ["Lovelace"]
    assert names("q=ada&kind=contact&status=archived") == ["Gone"]
    assert names("q=ada&kind=contact&status=all") == ["Gone", "Lovelace"]
    assert api.get("/api/v1/profiles/?kind=robot").status_code == 400


def test_pages_follow_a_cursor(api, org):
    for i in range(5):
        factories.contact(org, last_name=f"P{i}", email=f"p{i}@example.com")
    seen = []
    url = "/api/v1/profiles/?page_size=2"
    while url:
        body = api.get(url).json()
        seen += [p["last_name"] for p in body["results"]]
        url = body["next"]
    assert sorted(seen) == [f"P{i}" for i in range(5)]


def test_a_profile_is_changed_archived_and_restored(api, org):
    profile = factories.contact(org)
    response = _patch(api, f"/api/v1/profiles/{profile.uuid}/", {"phone": "+33 6 12 34 56 78"})
    assert response.status_code == 200
    assert _patch(api, f"/api/v1/profiles/{profile.uuid}/", {"kind": "company"}).status_code == 400
    assert _patch(api, f"/api/v1/profiles/{profile.uuid}/", {"phone": "call me"}).status_code == 400
    assert api.post(f"/api/v1/profiles/{profile.uuid}/archive/").json()["archived_at"]
    # An archived profile is still reached by its UUID.
    assert api.get(f"/api/v1/profiles/{profile.uuid}/").status_code == 200
    assert api.post(f"/api/v1/profiles/{profile.uuid}/restore/").json()["archived_at"] is None
    profile.refresh_from_db()
    assert profile.phone == "+33 6 12 34 56 78" and profile.archived_at is None


def test_values_set_through_the_api_are_in_history_with_the_keys_name(
    api, org, owner_client, write_key
):
    profile = factories.contact(org)
    amount = factories.field(org, "number", label="Income")
    born = factories.field(org, "date", label="Born")
    pep = factories.field(org, "boolean", label="PEP")
    response = _patch(
        api,
        f"/api/v1/profiles/{profile.uuid}/values/",
        {
            "values": [
                {"field": str(amount.uuid), "value": 1234.5},
                {"field": str(born.uuid), "value": "1990-02-28"},
                {"field": str(pep.uuid), "value": False},
            ]
        },
    )
    assert response.status_code == 200, response.json()
    assert {v["label"]: v["value"] for v in response.json()} == {
        "Income": "1234.5",
        "Born": "1990-02-28",
        "PEP": False,
    }
    with scopes_disabled():
        rows = list(FieldValueHistory.objects.filter(profile=profile))
    assert len(rows) == 3
    assert {(r.source, r.api_key_uuid, r.api_key_name, r.user_id) for r in rows} == {
        ("api", write_key[0].uuid, write_key[0].name, None)
    }
    page = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/history/")
    assert "API key “CRM sync”" in page.text
    # Setting the same values again changes nothing and appends nothing.
    again = {"values": [{"field": str(amount.uuid), "value": "1234.50"}]}
    assert _patch(api, f"/api/v1/profiles/{profile.uuid}/values/", again).status_code == 200
    with scopes_disabled():
        assert FieldValueHistory.objects.filter(profile=profile).count() == 3


def test_a_bad_value_is_refused_on_its_item_and_nothing_is_written(api, org):
    profile = factories.contact(org)
    text = factories.field(org, "text")
    day = factories.field(org, "date")
    proof = factories.field(org, "document")
    company_field = factories.field(org, "text", applies_to="company")
    response = _patch(
        api,
        f"/api/v1/profiles/{profile.uuid}/values/",
        {
            "values": [
                {"field": str(text.uuid), "value": "fine"},
                {"field": str(day.uuid), "value": "31/02/2020"},
                {"field": str(proof.uuid), "value": "x"},
                {"field": str(company_field.uuid), "value": "x"},
                {"field": "not-a-uuid", "value": "x"},
            ]
        },
    )
    assert response.status_code == 400
    attrs = {e["attr"] for e in response.json()["errors"]}
    assert attrs == {"values.1.value", "values.2.value", "values.3.field", "values.4.field"}
    with scopes_disabled():
        assert not FieldValue.objects.filter(profile=profile).exists()


def test_values_are_read_with_their_dates(api, org):
    profile = factories.contact(org)
    text = factories.field(org, "text", label="Job")
    _patch(
        api,
        f"/api/v1/profiles/{profile.uuid}/values/",
        {"values": [{"field": str(text.uuid), "value": " Baker "}]},
    )
    [value] = api.get(f"/api/v1/profiles/{profile.uuid}/values/").json()
    assert value["value"] == "Baker" and value["field"] == str(text.uuid)
    assert value["expires_on"] is None and value["updated_at"]


def test_names_are_single_lines(api):
    response = _post(
        api,
        "/api/v1/profiles/",
        {"kind": "contact", "last_name": "Doe\r\nBcc: x@evil.test", "email": "j@example.com"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "last_name"


def test_a_company_is_created_with_its_language_as_it_always_could_be(api, org):
    """The API's fuzzing found the action refusing `language` for a company ("a Company has
    no such field"), which the API had always accepted."""
    response = _post(
        api,
        "/api/v1/profiles/",
        {"kind": "company", "name": "Boulangerie Martin", "language": "fr"},
    )
    assert response.status_code == 201, response.json()
    with scopes_disabled():
        assert Profile.objects.get(uuid=response.json()["uuid"]).language == "fr"
