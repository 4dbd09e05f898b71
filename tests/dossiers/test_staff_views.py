from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier, DossierItem
from dossiers.opening import open_dossiers
from tests import factories

pytestmark = pytest.mark.django_db


def test_staff_open_a_classic_dossier_from_a_profile(
    member_client, org, django_capture_on_commit_callbacks
):
    field = factories.field(org, "text", label="Passport number")
    profile = factories.contact(org, email="client@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            f"/o/{org.slug}/profiles/{profile.uuid}/dossiers/new/",
            {"title": "Passport check", "fields": [field.pk], "message": "", "days": 14},
        )
    assert response.status_code == 302
    with scopes_disabled():
        dossier = Dossier.objects.get()
    assert (dossier.kind, dossier.title, dossier.profile) == ("classic", "Passport check", profile)
    assert [m.to for m in mail.outbox] == [["client@example.com"]]
    detail = member_client.get(response["Location"])
    assert "Passport number" in detail.text


def test_a_field_of_another_organisation_cannot_be_requested(member_client, org, other_org):
    foreign = factories.field(other_org, "text")
    profile = factories.contact(org)
    response = member_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/dossiers/new/",
        {"title": "X", "fields": [foreign.pk], "days": 14},
    )
    assert response.status_code == 200 and "fields" in response.context["form"].errors


def test_staff_follow_the_clients_link(member_client, org):
    field = factories.field(org, "text")
    dossier = factories.dossier(org, factories.contact(org), [field])
    response = member_client.post(f"/o/{org.slug}/dossiers/{dossier.uuid}/link/")
    assert response.status_code == 302 and response["Location"].startswith("/d/")
    assert member_client.get(response["Location"]).status_code == 200


def test_the_list_filters_by_status_kind_and_group(member_client, org):
    field = factories.field(org, "text")
    group = factories.group(org, [field])
    a, b = factories.contact(org), factories.contact(org, email="b@example.com")
    factories.dossier(
        org, a, [field], kind="update", update_group_id=group.pk, period=dt.date(2024, 1, 31)
    )
    factories.dossier(org, b, [field])
    url = f"/o/{org.slug}/dossiers/"
    assert member_client.get(url).context["page"].paginator.count == 2
    assert member_client.get(url + "?kind=update").context["page"].paginator.count == 1
    assert member_client.get(url + f"?group={group.uuid}").context["page"].paginator.count == 1
    assert member_client.get(url + "?group=not-a-uuid").context["page"].paginator.count == 2
    assert member_client.get(url + "?status=submitted").context["page"].paginator.count == 0


def test_the_list_queries_do_not_grow_with_rows(
    member_client, org, django_capture_on_commit_callbacks
):
    field = factories.field(org, "text")
    member_client.get(f"/o/{org.slug}/dossiers/")  # the organisation's counts get a version
    with django_capture_on_commit_callbacks(execute=True):
        factories.dossier(org, factories.contact(org), [field])
    with CaptureQueriesContext(connection) as few:
        member_client.get(f"/o/{org.slug}/dossiers/")
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(15):
            factories.dossier(org, factories.contact(org, email=f"{i}@example.com"), [field])
    with CaptureQueriesContext(connection) as many:
        assert member_client.get(f"/o/{org.slug}/dossiers/").context["page"].paginator.count == 16
    assert len(many) == len(few)


def test_the_list_reads_its_total_under_the_version_in_a_fixed_number_of_queries(
    member_client, org, django_capture_on_commit_callbacks
):
    field = factories.field(org, "text")
    with django_capture_on_commit_callbacks(execute=True):
        factories.dossier(org, factories.contact(org), [field])
    member_client.get(f"/o/{org.slug}/dossiers/")
    with CaptureQueriesContext(connection) as queries:
        member_client.get(f"/o/{org.slug}/dossiers/")
    # Session, user, the memberships (the current one and the organisation switcher's), the
    # groups, the version of the organisation's dossiers (the total kept under it, as the
    # layout's review count is), the page's rows.
    assert len(queries) == 6


def test_dossier_pages_are_404_to_another_organisation(outsider_client, org, other_org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    dossier = factories.dossier(org, profile, [field])
    for slug in (org.slug, other_org.slug):
        assert outsider_client.get(f"/o/{slug}/dossiers/{dossier.uuid}/").status_code == 404
        assert outsider_client.post(f"/o/{slug}/dossiers/{dossier.uuid}/link/").status_code == 404
        url = f"/o/{slug}/profiles/{profile.uuid}/dossiers/"
        assert outsider_client.get(url).status_code == 404


def test_opening_a_groups_dossiers_twice_changes_nothing(org):
    fields = [factories.field(org, "text"), factories.field(org, "document")]
    group = factories.group(org, fields)
    profiles = [factories.contact(org, email=f"{i}@example.com").pk for i in range(5)]
    period = dt.date(2024, 1, 31)
    with scope(organization=org):
        first, second = (
            open_dossiers(
                org,
                profiles,
                fields,
                kind="update",
                title="KYC",
                update_group_id=group.pk,
                period=period,
            )
            for _ in range(2)
        )
        assert sorted(first) == sorted(second)
        assert Dossier.objects.count() == 5
        assert DossierItem.objects.count() == 10


def test_the_database_refuses_a_second_dossier_for_a_group_period_and_profile(org):
    from django.db import IntegrityError, transaction

    field = factories.field(org, "text")
    group = factories.group(org, [field])
    profile = factories.contact(org)
    dossier = factories.dossier(
        org, profile, [field], kind="update", update_group_id=group.pk, period=dt.date(2024, 1, 31)
    )
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        Dossier.objects.create(
            organization=org,
            profile=profile,
            kind="update",
            title="x",
            update_group=group,
            period=dossier.period,
            expires_at=dossier.expires_at,
        )


def test_opening_dossiers_for_no_profile_opens_none(org):
    with scope(organization=org):
        assert open_dossiers(org, [], [factories.field(org)], kind="update", title="x") == []
