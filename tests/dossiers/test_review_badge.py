"""The menu's count of dossiers to review, kept under the organisation's version of its
dossiers (read with the memberships): right after each write that moves it."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from dossiers import review
from dossiers.models import Dossier, DossierState
from home.templatetags.menu import _rendered
from tests import factories
from tests.dossiers.conftest import _name, _pdf, _reload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh():
    cache.clear()
    _rendered.cache_clear()


def _badge(client, org) -> tuple[int, int]:
    """The count the menu shows (0 without a badge), and the page's queries that counted."""
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/o/{org.slug}/contacts/")
    found = re.search(r'class="count"[^>]*>(\d+)</span>', page.text)
    counted = [q for q in queries if "to_review" in q["sql"] and "COUNT" in q["sql"]]
    return (int(found.group(1)) if found else 0), len(counted)


def test_the_badge_follows_a_submission_and_a_decision_at_once(
    client, member_client, member, org, kyc, django_capture_on_commit_callbacks
):
    factories.set_review(kyc["group"])
    with scopes_disabled():
        # What a committed write leaves (a test's transaction never commits).
        DossierState.objects.create(organization=org, version=1)
    assert _badge(member_client, org) == (0, 1)
    assert _badge(member_client, org) == (0, 0)  # kept under the version
    token = factories.token(kyc["dossier"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/d/{token}/",
            {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"},
        )
    assert response.status_code == 302
    assert _badge(member_client, org) == (1, 1)
    assert _badge(member_client, org) == (1, 0)
    with django_capture_on_commit_callbacks(execute=True), scopes_disabled():
        review.approve(_reload(kyc["dossier"]), None, member)
    assert _badge(member_client, org) == (0, 1)


def test_without_a_version_yet_the_badge_is_counted_and_none_is_created(member_client, org, kyc):
    with scopes_disabled():
        Dossier.objects.filter(pk=kyc["dossier"].pk).update(status=Dossier.Status.TO_REVIEW)
    assert _badge(member_client, org) == (1, 1)
    assert _badge(member_client, org) == (1, 1)
    with scopes_disabled():
        assert not DossierState.objects.filter(organization=org).exists()
