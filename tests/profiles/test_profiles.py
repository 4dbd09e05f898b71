from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from profiles.models import FieldValue, FieldValueHistory, Profile
from tests import factories

pytestmark = pytest.mark.django_db


def test_staff_create_a_contact_of_a_company(member_client, org, member):
    company = factories.company(org)
    response = member_client.post(
        f"/o/{org.slug}/contacts/new/",
        {
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "ada@example.com",
            "language": "en",
            "company": company.pk,
            "is_representative": "on",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        ada = Profile.objects.get(email="ada@example.com")
    assert ada.company == company and ada.is_representative and ada.organization == org


def test_a_contact_cannot_join_another_organisations_company(member_client, org, other_org):
    foreign = factories.company(other_org)
    response = member_client.post(
        f"/o/{org.slug}/contacts/new/",
        {"last_name": "X", "email": "x@example.com", "language": "en", "company": foreign.pk},
    )
    assert response.status_code == 200
    assert "company" in response.context["form"].errors


def test_a_representative_needs_a_company(member_client, org):
    response = member_client.post(
        f"/o/{org.slug}/contacts/new/",
        {"last_name": "X", "email": "x@example.com", "language": "en", "is_representative": "on"},
    )
    assert "is_representative" in response.context["form"].errors


def test_companies_are_created_and_edited(member_client, org):
    response = member_client.post(f"/o/{org.slug}/companies/new/", {"name": "Hooli"})
    assert response.status_code == 302
    with scopes_disabled():
        hooli = Profile.objects.get(name="Hooli")
    member_client.post(
        f"/o/{org.slug}/profiles/{hooli.uuid}/edit/",
        {"name": "Hooli Inc", "registration_number": "42", "address": ""},
    )
    hooli.refresh_from_db()
    assert (hooli.name, hooli.registration_number, hooli.kind) == ("Hooli Inc", "42", "company")


def test_lists_search_filter_and_paginate(member_client, org, other_org):
    for i in range(30):
        factories.contact(org, last_name=f"Smith{i:02}", email=f"s{i}@example.com")
    factories.contact(org, last_name="Archived", archived_at="2024-01-01T00:00Z")
    factories.contact(other_org, last_name="Smith99")
    response = member_client.get(f"/o/{org.slug}/contacts/?q=smith")
    assert response.context["page"].paginator.count == 30
    assert len(response.context["page"]) == 25
    assert "Smith99" not in response.text
    response = member_client.get(f"/o/{org.slug}/contacts/?status=archived")
    assert [p.last_name for p in response.context["page"]] == ["Archived"]
    response = member_client.get(f"/o/{org.slug}/contacts/?page=2&q=smith")
    assert len(response.context["page"]) == 5


def test_archiving_a_profile_keeps_its_data(member_client, org):
    profile = factories.contact(org)
    url = f"/o/{org.slug}/profiles/{profile.uuid}/archive/"
    member_client.post(url)
    profile.refresh_from_db()
    assert profile.is_archived
    member_client.post(url)
    profile.refresh_from_db()
    assert not profile.is_archived


def test_profile_pages_are_404_to_another_organisation(outsider_client, org, other_org):
    profile = factories.contact(org)
    for suffix in ["", "edit/", "values/", "history/"]:
        assert (
            outsider_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/{suffix}").status_code
            == 404
        )
        url = f"/o/{other_org.slug}/profiles/{profile.uuid}/{suffix}"
        assert outsider_client.get(url).status_code == 404
    assert (
        outsider_client.post(f"/o/{other_org.slug}/profiles/{profile.uuid}/archive/").status_code
        == 404
    )


def _fill(org, profile, n_fields):
    fields = [factories.field(org, "text") for _ in range(n_fields)]
    with scopes_disabled():
        for f in fields:
            FieldValue.objects.create(organization=org, profile=profile, field=f, value="v")
            FieldValueHistory.objects.create(
                organization=org, profile=profile, field=f, new_value="v", source="staff"
            )


def _count(client, url):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_profile_page_queries_do_not_grow_with_fields(member_client, org):
    small, large = factories.contact(org), factories.contact(org, email="b@example.com")
    _fill(org, small, 2)
    _fill(org, large, 30)
    small_count = _count(member_client, f"/o/{org.slug}/profiles/{small.uuid}/")
    assert _count(member_client, f"/o/{org.slug}/profiles/{large.uuid}/") == small_count
    history = _count(member_client, f"/o/{org.slug}/profiles/{large.uuid}/history/")
    assert history == _count(member_client, f"/o/{org.slug}/profiles/{small.uuid}/history/")


def test_the_lists_queries_do_not_grow_with_rows(member_client, org):
    company = factories.company(org)
    factories.contact(org, company=company)
    few = _count(member_client, f"/o/{org.slug}/contacts/")
    for i in range(20):
        factories.contact(
            org, email=f"{i}@example.com", company=factories.company(org, name=f"C{i}")
        )
    assert _count(member_client, f"/o/{org.slug}/contacts/") == few
    assert _count(member_client, f"/o/{org.slug}/companies/") == few
