"""The header's search: a name or an e-mail across contacts, companies and dossiers of this
organisation only, grouped by kind; case-insensitive, and accent-insensitive on PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import connection

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(org, other_org):
    field = factories.field(org, "text")
    hugo = factories.contact(org, first_name="Hélène", last_name="Dupré", email="helene@ex.fr")
    factories.contact(org, first_name="Marc", last_name="Petit", email="marc@ex.fr")
    factories.company(org, name="Dupré & Fils", email="contact@dupre.fr")
    factories.dossier(org, hugo, [field], title="Annual review")
    stranger = factories.contact(
        other_org, first_name="Hélène", last_name="Dupré", email="helene@other.fr"
    )
    factories.dossier(other_org, stranger, [factories.field(other_org, "text")], title="Theirs")
    return hugo


def _found(client, org, q: str) -> dict[str, list[str]]:
    response = client.get(f"/o/{org.slug}/search/", {"q": q})
    assert response.status_code == 200
    results = response.context["results"]
    return {
        "contacts": [p.email for p in results.contacts.rows],
        "companies": [p.name for p in results.companies.rows],
        "dossiers": [f"{d.title}/{d.profile.email}" for d in results.dossiers.rows],
    }


def test_a_name_finds_contacts_companies_and_dossiers_of_this_organisation_only(
    member_client, org, world
):
    found = _found(member_client, org, "dupré")
    assert found == {
        "contacts": ["helene@ex.fr"],
        "companies": ["Dupré & Fils"],
        "dossiers": ["Annual review/helene@ex.fr"],
    }


def test_an_e_mail_finds_its_contact_whatever_the_case(member_client, org, world):
    assert _found(member_client, org, "MARC@EX")["contacts"] == ["marc@ex.fr"]
    assert _found(member_client, org, "HELENE@OTHER.FR")["contacts"] == []


def test_several_words_must_all_match(member_client, org, world):
    assert _found(member_client, org, "Hélène Dupré")["contacts"] == ["helene@ex.fr"]
    assert _found(member_client, org, "Hélène Petit")["contacts"] == []


def test_accents_are_ignored_where_the_database_can(member_client, org, world):
    found = _found(member_client, org, "helene dupre")["contacts"]
    if connection.vendor == "postgresql":
        assert found == ["helene@ex.fr"]
        assert _found(member_client, org, "DUPRE")["companies"] == ["Dupré & Fils"]
    else:
        # SQLite's LIKE folds ASCII case only: the e-mail's "helene" still matches a word,
        # "dupre" matches no accented name.
        assert found == []


def test_the_results_page_is_grouped_labelled_and_reached_from_the_header(
    member_client, org, world
):
    home = member_client.get(f"/o/{org.slug}/").content.decode()
    assert f'action="/o/{org.slug}/search/"' in home
    assert '<label for="topsearch" class="sr-only">' in home
    html = member_client.get(f"/o/{org.slug}/search/", {"q": "Dupré"}).content.decode()
    for heading in ("Contacts", "Companies", "Dossiers"):
        assert f">{heading}</h2>" in html
    assert 'value="Dupré"' in html  # the header's box keeps the text


@pytest.mark.parametrize("q", ["", "   ", "\x00", "%", "_", "a" * 500, "' OR 1=1 --"])
def test_odd_text_is_a_page_never_an_error(member_client, org, world, q):
    response = member_client.get(f"/o/{org.slug}/search/", {"q": q})
    assert response.status_code == 200
    if q.strip("\x00 ") in ("", "%", "_", "' OR 1=1 --"):
        assert "Theirs" not in response.content.decode()


def test_search_is_404_for_another_organisation(outsider_client, org, world):
    assert outsider_client.get(f"/o/{org.slug}/search/", {"q": "Dupré"}).status_code == 404


def test_the_search_reads_a_fixed_number_of_queries(
    member_client, org, world, django_assert_max_num_queries
):
    for i in range(15):
        factories.contact(org, first_name="Hélène", last_name=f"Dupré {i}", email=f"h{i}@ex.fr")
    # Session, user, membership, one query per kind, the layout's review count and switcher.
    with django_assert_max_num_queries(8):
        found = member_client.get(f"/o/{org.slug}/search/", {"q": "dupré"})
    assert found.context["results"].contacts.more
    assert len(found.context["results"].contacts.rows) == 10
