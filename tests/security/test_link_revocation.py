"""A link works only while its person is still a recipient of the dossier."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django_scopes import scopes_disabled

from dossiers.actions import revoke_links
from dossiers.models import AccessToken
from organizations.actors import Actor
from organizations.models import AuditEntry
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def company_dossier(org):
    company = factories.company(org)
    representative = factories.contact(
        org, company=company, is_representative=True, email="rep@example.com"
    )
    field = factories.field(org, "text", applies_to="company")
    dossier = factories.dossier(org, company, [field])
    return {"company": company, "representative": representative, "dossier": dossier}


def _edit(client, org, person, **changes):
    data = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "phone": "",
        "language": person.language,
        "company": person.company_id or "",
        "is_representative": "on" if person.is_representative else "",
    }
    data.update(changes)
    return client.post(f"/o/{org.slug}/profiles/{person.uuid}/edit/", data)


def _tokens_of(person) -> int:
    with scopes_disabled():
        return AccessToken.objects.filter(recipient=person).count()


def test_a_representative_removed_from_the_company_loses_the_link(
    member_client, org, company_dossier
):
    rep = company_dossier["representative"]
    token = factories.token(company_dossier["dossier"], rep)
    assert Client().get(f"/d/{token}/").status_code == 200
    assert _edit(member_client, org, rep, is_representative="").status_code == 302
    assert Client().get(f"/d/{token}/").status_code == 404
    assert Client().post(f"/d/{token}/", {"action": "draft"}).status_code == 404
    assert _tokens_of(rep) == 0
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="dossiers.links.revoked")
    assert entry.details["links"] == "1"


def test_an_archived_representative_loses_the_link(member_client, org, company_dossier):
    rep = company_dossier["representative"]
    token = factories.token(company_dossier["dossier"], rep)
    member_client.post(f"/o/{org.slug}/profiles/{rep.uuid}/archive/")
    assert Client().get(f"/d/{token}/").status_code == 404
    assert _tokens_of(rep) == 0


def test_a_contact_whose_e_mail_changed_loses_the_link(member_client, org):
    person = factories.contact(org, email="old@example.com")
    dossier = factories.dossier(org, person, [factories.field(org, "text")])
    token = factories.token(dossier, person)
    _edit(member_client, org, person, email="new@example.com")
    assert Client().get(f"/d/{token}/").status_code == 404
    assert _tokens_of(person) == 0


def test_other_changes_keep_the_link(member_client, org, company_dossier):
    rep = company_dossier["representative"]
    token = factories.token(company_dossier["dossier"], rep)
    _edit(member_client, org, rep, first_name="Renamed", phone="+33 6 12 34 56 78")
    assert Client().get(f"/d/{token}/").status_code == 200
    assert _tokens_of(rep) == 1


def test_the_portal_refuses_a_former_recipient_even_when_the_change_skipped_the_signals(
    org, company_dossier
):
    # A bulk update sends no signal: the look-up itself checks the recipient.
    rep = company_dossier["representative"]
    token = factories.token(company_dossier["dossier"], rep)
    with scopes_disabled():
        type(rep).objects.filter(pk=rep.pk).update(company=None, is_representative=False)
    assert Client().get(f"/d/{token}/").status_code == 404


def test_revoke_links_deletes_the_chosen_tokens_only(org, company_dossier):
    dossier = company_dossier["dossier"]
    rep = company_dossier["representative"]
    old, new = factories.token(dossier, rep), factories.token(dossier, rep)
    with scopes_disabled():
        newest = AccessToken.objects.order_by("-created_at", "-pk").first()
        count = revoke_links(
            AccessToken.objects.filter(dossier=dossier).exclude(pk=newest.pk),
            reason="resent",
            actor=Actor.system("test"),
        )
    assert count == 1
    assert Client().get(f"/d/{old}/").status_code == 404
    assert Client().get(f"/d/{new}/").status_code == 200
