"""The profile page reads whether anything is to be said beside its fields, and whether the
person's address fails, with the profile itself: a quiet profile costs no query for them, and
the notes and the failing address still show wherever they are due."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from outbox.models import FailingAddress
from tests import factories

pytestmark = pytest.mark.django_db

# The page of a contact with no open request, no schedule of its own and a healthy address:
# session, user, membership, profile (with its probes), fields, values, and the layout's
# review badge (counted here: no dossier write commits inside a test's transaction, so the
# organisation has no version to cache it under, dossiers.versions).
QUIET_PAGE = 7


def _fail(org, address: str) -> None:
    with scopes_disabled():
        FailingAddress.objects.create(organization=org, address=address, reason="bounced")


def _page(client, org, profile) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/o/{org.slug}/profiles/{profile.uuid}/")
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def test_a_quiet_profile_s_page_reads_no_notes_and_no_failing_address(member_client, org):
    factories.field(org, "text", label="Address")
    person = factories.contact(org, language="en")
    _page(member_client, org, person)  # the layout's per-process caches warmed
    html, queries = _page(member_client, org, person)
    assert queries == QUIET_PAGE
    assert "awaiting the client" not in html
    assert "failing-address" not in html


def test_an_open_request_costs_its_one_query_and_shows_beside_its_field(member_client, org):
    asked = factories.field(org, "text", label="Address")
    person = factories.contact(org, language="en")
    factories.dossier(org, person, [asked])
    html, queries = _page(member_client, org, person)
    assert queries == QUIET_PAGE + 1
    row = next(r for r in html.split('id="field-') if r.startswith(str(asked.uuid)))
    assert "awaiting the client" in row


def test_the_failing_address_is_found_however_the_profile_spells_it(member_client, org):
    person = factories.contact(org, email="Jane@Example.COM")
    _fail(org, "jane@example.com")
    html, _queries = _page(member_client, org, person)
    assert "failing-address" in html


def test_another_organisation_s_failing_address_is_not_this_one_s(member_client, org, other_org):
    person = factories.contact(org, email="jane@example.com")
    _fail(other_org, "jane@example.com")
    html, _queries = _page(member_client, org, person)
    assert "failing-address" not in html


def test_a_company_shows_its_representative_s_failing_address(member_client, org):
    company = factories.company(org, name="Initech")
    factories.contact(org, email="bob@example.com", company=company, is_representative=True)
    _fail(org, "bob@example.com")
    html, _queries = _page(member_client, org, company)
    assert "bob@example.com" in html and "failing-address" in html


@pytest.mark.parametrize(
    ("language", "said"),
    [("en", "Update requested on"), ("fr", "Mise à jour demandée le")],
)
def test_the_requested_update_note_speaks_the_reader_s_language(member_client, org, language, said):
    asked = factories.field(org, "text", label="Address")
    person = factories.contact(org)
    factories.dossier(org, person, [asked])
    member_client.cookies["django_language"] = language
    html, _queries = _page(member_client, org, person)
    assert said in html
