"""The layout's main menu, kept rendered per process (home.templatetags.menu): each
organisation, role and language gets its own links, whatever was rendered before."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier
from home.templatetags.menu import _rendered
from organizations.actions import change_role
from organizations.actors import Actor
from organizations.models import Membership
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh():
    cache.clear()
    _rendered.cache_clear()
    yield
    _rendered.cache_clear()


def _menu(client: Client, path: str, **headers: str) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    found = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', response.text, re.S)
    assert found
    return found.group(1)


def _links(menu: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', menu)


def test_each_organisation_gets_its_own_links(org, other_org):
    user = make_member(org, "both", Membership.Role.ADMIN)
    with scopes_disabled():
        Membership.objects.create(organization=other_org, user=user, role="admin")
    client = Client()
    client.force_login(user)
    for slug, other in ((org.slug, other_org.slug), (other_org.slug, org.slug)) * 2:
        links = _links(_menu(client, f"/o/{slug}/contacts/"))
        assert len(links) == 6
        assert all(link.startswith(f"/o/{slug}/") for link in links)
        assert not any(f"/o/{other}/" in link for link in links)
        # The layout's own links (brand, search, notices) too; the switcher names the other.
        page = client.get(f"/o/{slug}/contacts/").text
        assert f'class="brand" href="/o/{slug}/"' in page
        assert f'action="/o/{slug}/search/"' in page
        assert f'href="/o/{slug}/notices/"' in page
        assert f'<li><a href="/o/{other}/">' in page


def test_a_member_never_gets_the_administrators_links(org, owner_client, member_client):
    for _ in range(2):
        assert "Settings" in _menu(owner_client, f"/o/{org.slug}/contacts/")
        assert "Settings" not in _menu(member_client, f"/o/{org.slug}/contacts/")


def test_a_role_changed_changes_the_menu_at_once(org, owner, member, member_client):
    assert "Settings" not in _menu(member_client, f"/o/{org.slug}/contacts/")
    with scopes_disabled():
        membership = Membership.objects.get(user=member, organization=org)
    with scope(organization=org):
        change_role(membership, actor=Actor.member(owner), role=Membership.Role.ADMIN)
    assert "Settings" in _menu(member_client, f"/o/{org.slug}/contacts/")
    with scope(organization=org):
        change_role(membership, actor=Actor.member(owner), role=Membership.Role.STAFF)
    assert "Settings" not in _menu(member_client, f"/o/{org.slug}/contacts/")


def test_the_menu_speaks_the_language_asked(org, owner_client):
    path = f"/o/{org.slug}/contacts/"
    for _ in range(2):
        french = _menu(owner_client, path, accept_language="fr")
        assert "Sociétés" in french and "Paramètres" in french and "Companies" not in french
        english = _menu(owner_client, path, accept_language="en")
        assert "Companies" in english and "Settings" in english and "Sociétés" not in english


def test_the_current_page_is_marked_and_only_it(org, owner_client):
    def current(path: str) -> list[str]:
        menu = _menu(owner_client, path)
        return re.findall(r'href="([^"]+)" aria-current="page"', menu)

    for _ in range(2):
        assert current(f"/o/{org.slug}/contacts/") == [f"/o/{org.slug}/contacts/"]
        assert current(f"/o/{org.slug}/companies/") == [f"/o/{org.slug}/companies/"]
        assert current(f"/o/{org.slug}/dossiers/") == [f"/o/{org.slug}/dossiers/"]
        assert current(f"/o/{org.slug}/settings/fields/companies/") == [
            f"/o/{org.slug}/settings/fields/contacts/"
        ]
        assert current(f"/o/{org.slug}/") == []


def test_the_badge_is_each_organisations_own(org, other_org, member_client, outsider_client):
    field = factories.field(org, "text")
    dossier = factories.dossier(org, factories.contact(org, email="a@example.com"), [field])
    with scopes_disabled():
        Dossier.objects.filter(pk=dossier.pk).update(status=Dossier.Status.TO_REVIEW)
    for _ in range(2):
        assert 'class="count"' in _menu(member_client, f"/o/{org.slug}/contacts/")
        assert 'class="count"' not in _menu(outsider_client, f"/o/{other_org.slug}/contacts/")
