"""The dossier list's total, kept under the organisation's version of its dossiers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from dossiers import versions
from dossiers.models import Dossier
from dossiers.privacy import erase
from dossiers.retention import expire_dossiers
from tests import factories

pytestmark = pytest.mark.django_db

LIST = "/o/{}/dossiers/"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def _count(client, org, query: str = "") -> tuple[int, int]:
    """The list's total, and the queries its page read."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST.format(org.slug) + query)
    assert response.status_code == 200
    return response.context["page"].paginator.count, len(queries)


def _opened(org, field, n: int, django_capture_on_commit_callbacks) -> list[Dossier]:
    with django_capture_on_commit_callbacks(execute=True):
        return [
            factories.dossier(org, factories.contact(org, email=f"{i}@example.com"), [field])
            for i in range(n)
        ]


def test_the_total_is_counted_once_then_read_under_the_version(
    member_client, org, django_capture_on_commit_callbacks
):
    _opened(org, factories.field(org, "text"), 3, django_capture_on_commit_callbacks)
    first, counted = _count(member_client, org)
    second, kept = _count(member_client, org)
    assert first == second == 3
    # The total and the menu's count of dossiers to review, each counted once.
    assert kept == counted - 2


def test_a_dossier_opened_is_in_the_total_at_once(
    member_client, org, django_capture_on_commit_callbacks
):
    field = factories.field(org, "text")
    _opened(org, field, 2, django_capture_on_commit_callbacks)
    assert _count(member_client, org)[0] == 2
    with django_capture_on_commit_callbacks(execute=True):
        factories.dossier(org, factories.contact(org, email="new@example.com"), [field])
    assert _count(member_client, org)[0] == 3


def test_a_status_moved_is_in_the_filtered_totals_at_once(
    client, member_client, org, django_capture_on_commit_callbacks
):
    [dossier, _other] = _opened(
        org, factories.field(org, "text"), 2, django_capture_on_commit_callbacks
    )
    assert _count(member_client, org, "?status=opened")[0] == 0
    assert _count(member_client, org, "?status=open")[0] == 2
    token = factories.token(dossier)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(f"/d/{token}/").status_code == 200
    assert _count(member_client, org, "?status=opened")[0] == 1
    assert _count(member_client, org, "?status=open")[0] == 1


def test_dossiers_expired_or_erased_leave_the_totals_at_once(
    member_client, org, django_capture_on_commit_callbacks
):
    [first, _second] = _opened(
        org, factories.field(org, "text"), 2, django_capture_on_commit_callbacks
    )
    assert _count(member_client, org, "?status=expired")[0] == 0
    with scopes_disabled():
        later = max(d.expires_at for d in Dossier.objects.all()) + dt.timedelta(days=1)
    with scopes_disabled(), django_capture_on_commit_callbacks(execute=True):
        expire_dossiers(later)
    assert _count(member_client, org, "?status=expired")[0] == 2
    assert _count(member_client, org)[0] == 2
    with scopes_disabled(), django_capture_on_commit_callbacks(execute=True):
        erase(first.profile)
    assert _count(member_client, org)[0] == 1


def test_a_search_is_counted_each_time(member_client, org, django_capture_on_commit_callbacks):
    field = factories.field(org, "text")
    _opened(org, field, 1, django_capture_on_commit_callbacks)
    query = "?q=Dupont"
    assert _count(member_client, org, query)[0] == 0
    # No renewal runs: a count kept under the version would not see this one.
    factories.dossier(org, factories.contact(org, last_name="Dupont"), [field])
    assert _count(member_client, org, query)[0] == 1


def test_a_rolled_back_write_renews_nothing(org, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks() as renewals:
        with pytest.raises(RuntimeError), transaction.atomic():
            versions.touched(org.pk)
            raise RuntimeError
        versions.touched(org.pk)
    assert len(renewals) == 1


def test_an_organisation_without_a_version_is_given_one_when_counted(org):
    assert versions.cached(org.pk, "n", lambda: 7) == 7
    version = versions.current(org.pk)
    assert version is not None
    assert versions.cached(org.pk, "n", lambda: 8) == 7
    versions._Renewal(org.pk)()
    assert versions.current(org.pk) != version
    assert versions.cached(org.pk, "n", lambda: 8) == 8


def test_a_client_opening_drafting_and_submitting_renews_the_counts_once(
    client, org, django_capture_on_commit_callbacks
):
    field = factories.field(org, "text", label="Job title")
    dossier = factories.dossier(org, factories.contact(org), [field])
    token = factories.token(dossier)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/d/{token}/", {f"f_{field.uuid.hex}": "Pilot", "action": "submit"})
    assert response.status_code == 302
    with scopes_disabled():
        dossier.refresh_from_db()
    assert dossier.status == "submitted" and dossier.first_opened_at is not None
    assert [c for c in callbacks if isinstance(c, versions._Renewal)] == [versions._Renewal(org.pk)]
