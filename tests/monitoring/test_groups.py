from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from monitoring.dispatch import dispatch_due
from monitoring.models import GroupField, UpdateGroup, UpdateRun
from tests import factories
from tests.conftest import need_service

pytestmark = pytest.mark.django_db


def _post(client, org, **data):
    base = {
        "title": "KYC",
        "applies_to": "contact",
        "start_date": "2024-01-31",
        "frequency": "3-months",
        "interval_count": "",
        "interval_unit": "months",
    }
    return client.post(f"/o/{org.slug}/settings/fields/monitoring/new/", {**base, **data})


def test_an_admin_creates_a_group_and_sees_its_next_dates(owner_client, org):
    proof = factories.field(org, "document", label="Proof")
    response = _post(owner_client, org, fields=[proof.pk])
    assert response.status_code == 302
    with scopes_disabled():
        group = UpdateGroup.objects.get()
    assert factories.group_id_of(proof) == group.pk
    assert (group.interval_count, group.interval_unit) == (3, "months")
    page = owner_client.get(response["Location"])
    assert len(page.context["group"].upcoming()) == 6
    listing = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/")
    assert "KYC" in listing.text and "Proof" in listing.text and "Every 3 months" in listing.text


def test_a_custom_frequency_needs_its_number(owner_client, org):
    field = factories.field(org, "text")
    response = _post(owner_client, org, fields=[field.pk], frequency="custom", interval_count="")
    assert "interval_count" in response.context["form"].errors
    response = _post(
        owner_client,
        org,
        fields=[field.pk],
        frequency="custom",
        interval_count="10",
        interval_unit="days",
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert UpdateGroup.objects.get().frequency_display == "every 10 days"


def test_a_field_held_by_another_group_is_refused_with_that_groups_name(owner_client, org):
    field = factories.field(org, "text", label="Address")
    factories.group(org, [field], title="Existing group")
    form_page = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/new/")
    assert "Address" in form_page.text and "Existing group" in form_page.text
    assert "disabled" in form_page.text
    response = _post(owner_client, org, title="Second", fields=[field.pk])
    assert response.status_code == 200
    assert "Existing group" in " ".join(response.context["form"].errors["fields"])
    with scopes_disabled():
        assert UpdateGroup.objects.count() == 1


def test_a_field_of_the_other_type_is_refused(owner_client, org):
    company_field = factories.field(org, "text", applies_to="company", label="Turnover")
    response = _post(owner_client, org, fields=[company_field.pk])
    assert "fields" in response.context["form"].errors


def test_the_database_holds_a_field_in_one_group_at_most(org):
    # Monitoring's table keys a membership by its field: a second group cannot be written.
    field = factories.field(org, "text")
    factories.group(org, [field])
    other = factories.group(org, [], title="Other")
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        GroupField.objects.create(
            field=field, group=other, organization=org, applies_to=field.applies_to
        )
    assert factories.group_id_of(field) != other.pk


def test_the_database_refuses_a_field_in_a_group_of_another_type(org):
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    field = factories.field(org, "text", applies_to="company")
    group = factories.group(org, [])
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        # The field's own organisation and type: the group's are another.
        GroupField.objects.create(
            field=field, group=group, organization=field.organization, applies_to="company"
        )
        # The foreign key is checked at commit; ask for the check now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_the_database_refuses_a_field_in_another_organisations_group(org, other_org):
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    field = factories.field(other_org, "text")
    group = factories.group(org, [])
    with scopes_disabled(), pytest.raises(IntegrityError), transaction.atomic():
        GroupField.objects.create(
            field=field, group=group, organization=other_org, applies_to=field.applies_to
        )
        # The foreign key is checked at commit; ask for the check now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_pause_and_resume_without_a_burst(owner_client, owner, org, time_machine):
    factories.contact(org, email="client@example.com")
    time_machine.move_to(dt.datetime(2027, 1, 10, 9, tzinfo=dt.UTC), tick=False)
    owner_client.force_login(owner)  # a session of that day
    group = factories.group(org, [factories.field(org)], start_date=dt.date(2020, 1, 1))
    assert group.next_date == dt.date(2027, 2, 1)
    url = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/toggle/"
    owner_client.post(url)
    group.refresh_from_db()
    assert not group.is_active
    # Paused through five monthly periods (1 February to 1 June).
    back = dt.datetime(2027, 6, 15, 9, tzinfo=dt.UTC)
    time_machine.move_to(back, tick=False)
    assert dispatch_due(back, fan_out=False) == []
    owner_client.force_login(owner)
    owner_client.post(url)
    group.refresh_from_db()
    assert group.is_active and group.next_date == dt.date(2027, 7, 1)
    # Resumed: nothing of the paused months is sent, then the next period runs once.
    assert dispatch_due(back, fan_out=False) == []
    first = dt.datetime(2027, 7, 1, 8, 1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    assert len(dispatch_due(first, fan_out=False)) == 1
    with scopes_disabled():
        assert list(UpdateRun.objects.values_list("period", "skipped")) == [
            (dt.date(2027, 7, 1), 0)
        ]


def test_deleting_a_group_frees_its_fields_and_keeps_its_dossiers(owner_client, org):
    field = factories.field(org, "text")
    group = factories.group(org, [field])
    dossier = factories.dossier(
        org,
        factories.contact(org),
        [field],
        kind="update",
        update_group_id=group.pk,
        period=group.start_date,
    )
    owner_client.post(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/delete/")
    dossier.refresh_from_db()
    assert factories.group_id_of(field) is None
    assert dossier.status == "open"
    with scopes_disabled():
        assert not UpdateGroup.objects.exists()
        assert Dossier.objects.count() == 1


def test_editing_keeps_the_groups_own_fields_selectable(owner_client, org):
    a, b = factories.field(org, label="A"), factories.field(org, label="B")
    group = factories.group(org, [a])
    url = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/edit/"
    response = owner_client.post(
        url,
        {
            "title": "Renamed",
            "applies_to": "contact",
            "start_date": "2024-01-31",
            "frequency": "1-years",
            "interval_unit": "years",
            "fields": [b.pk],
        },
    )
    assert response.status_code == 302
    assert (factories.group_id_of(a), factories.group_id_of(b)) == (None, group.pk)


def test_staff_cannot_reach_data_monitoring(member_client, org):
    group = factories.group(org, [])
    assert member_client.get(f"/o/{org.slug}/settings/fields/monitoring/").status_code == 403
    url = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/delete/"
    assert member_client.post(url).status_code == 403


def test_groups_are_404_to_another_organisation(outsider_client, org):
    group = factories.group(org, [])
    for slug in ("acme", "globex"):
        url = f"/o/{slug}/settings/fields/monitoring/{group.uuid}/"
        assert outsider_client.get(url).status_code == 404


def test_the_form_lists_only_the_fields_of_the_chosen_type(owner_client, org):
    factories.field(org, "text", label="Home address")
    factories.field(org, "text", applies_to="company", label="Turnover")
    page = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/new/")
    assert "Home address" in page.text
    assert "Turnover" not in page.text
    live = owner_client.get(
        f"/o/{org.slug}/settings/fields/monitoring/new/preview/", {"applies_to": "company"}
    )
    assert "Turnover" in live.text
    assert "Home address" not in live.text
    assert "This field is required" not in live.text  # nothing is checked while typing


def test_without_javascript_the_type_is_applied_without_saving(owner_client, org):
    factories.field(org, "text", applies_to="company", label="Turnover")
    response = _post(owner_client, org, title="Typed", applies_to="company", refresh="1")
    assert response.status_code == 200
    assert "Turnover" in response.text
    assert 'value="Typed"' in response.text
    assert "This field is required" not in response.text
    with scopes_disabled():
        assert not UpdateGroup.objects.exists()


def test_the_preview_shows_the_next_six_dates_and_the_recipients(owner_client, org):
    factories.company(org)
    factories.company(org, name="Globex")
    factories.company(org, name="Gone", archived_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    factories.contact(org)
    url = f"/o/{org.slug}/settings/fields/monitoring/new/preview/"
    # A start in the future, whatever today is: 31 January, to see the month ends clamped.
    year = timezone.localdate().year + 3
    live = owner_client.get(
        url,
        {
            "applies_to": "company",
            "start_date": f"{year}-01-31",
            "frequency": "custom",
            "interval_count": "1",
            "interval_unit": "months",
        },
    )
    february_end = 29 if calendar.isleap(year) else 28
    assert live.context["preview"].dates == [
        dt.date(year, 1, 31),
        dt.date(year, 2, february_end),
        dt.date(year, 3, 31),
        dt.date(year, 4, 30),
        dt.date(year, 5, 31),
        dt.date(year, 6, 30),
    ]
    assert "Each update asks 2 companies." in live.text
    incomplete = owner_client.get(url, {"start_date": f"31/01/{year}", "frequency": "1-months"})
    assert incomplete.status_code == 200
    assert "Choose a start date and a frequency" in incomplete.text


def test_the_preview_is_for_admins_of_this_organisation(member_client, outsider_client, org):
    group = factories.group(org)
    url = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/preview/"
    assert member_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 404


@pytest.mark.parametrize("start", ["9999-12-31", "0001-01-01"])
def test_the_preview_shows_the_error_of_a_start_date_the_form_refuses(owner, org, start):
    with time_machine.travel(dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC), tick=False):
        owner_client = Client()
        owner_client.force_login(owner)
        data = {"applies_to": "contact", "start_date": start, "frequency": "1-years"}
        live = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/new/preview/", data)
        saved = owner_client.post(f"/o/{org.slug}/settings/fields/monitoring/new/", data)
    [refusal] = saved.context["form"].errors["start_date"]
    assert "preview" not in live.context or live.context["preview"] is None
    assert escape(refusal) in live.content.decode()
    assert "9999" not in live.content.decode().replace(start, "")


def test_the_field_forms_keep_a_field_in_its_group(owner_client, org):
    """The data field's own doors (edit, archive, restore) never move it between groups:
    the membership is monitoring's row, which they do not write."""
    field = factories.field(org, "text", label="Proof")
    group = factories.group(org, [field])
    edited = owner_client.post(
        f"/o/{org.slug}/settings/field/{field.uuid}/",
        {"label": "Proof of address", "type": "text", "max_size_mb": 10},
    )
    assert edited.status_code == 302
    owner_client.post(f"/o/{org.slug}/settings/field/{field.uuid}/archive/")
    assert factories.group_id_of(field) == group.pk
    owner_client.post(f"/o/{org.slug}/settings/field/{field.uuid}/archive/")  # restores it
    field.refresh_from_db()
    assert (field.label, field.archived_at) == ("Proof of address", None)
    assert factories.group_id_of(field) == group.pk
    # Still the group's, so no other group can take it.
    response = _post(owner_client, org, fields=[field.pk], title="Other")
    assert "fields" in response.context["form"].errors
