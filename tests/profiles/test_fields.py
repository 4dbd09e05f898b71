from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from profiles.models import DataField, FieldValue
from tests import factories

pytestmark = pytest.mark.django_db


def _create(client, org, kind="contacts", **data):
    return client.post(f"/o/{org.slug}/settings/fields/{kind}/new/", data)


def test_admins_create_fields_of_each_kind(owner_client, org):
    assert (
        _create(
            owner_client,
            org,
            label="Passport",
            type="document",
            accepted_types=["pdf", "png"],
            max_size_mb=5,
        ).status_code
        == 302
    )
    assert (
        _create(
            owner_client,
            org,
            "companies",
            label="Sector",
            type="choice",
            choices_text="Bank\nRetail\n",
            max_size_mb=10,
        ).status_code
        == 302
    )
    with scopes_disabled():
        passport = DataField.objects.get(label="Passport")
        sector = DataField.objects.get(label="Sector")
    assert (passport.applies_to, passport.accepted_types, passport.max_size_mb) == (
        "contact",
        ["pdf", "png"],
        5,
    )
    assert (sector.applies_to, sector.choices) == ("company", ["Bank", "Retail"])


def test_a_list_without_choices_is_refused_on_its_field(owner_client, org):
    response = _create(
        owner_client, org, label="Colour", type="choice", choices_text="", max_size_mb=10
    )
    assert "choices_text" in response.context["form"].errors
    with scopes_disabled():
        assert not DataField.objects.exists()


def test_a_document_field_needs_a_file_type(owner_client, org):
    response = _create(owner_client, org, label="Doc", type="document", max_size_mb=10)
    assert "accepted_types" in response.context["form"].errors


def test_staff_cannot_reach_field_settings(member_client, org):
    assert member_client.get(f"/o/{org.slug}/settings/fields/contacts/").status_code == 403
    assert _create(member_client, org, label="X", type="text", max_size_mb=10).status_code == 403


def test_archiving_a_field_keeps_its_values(owner_client, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    with scopes_disabled():
        FieldValue.objects.create(
            organization=org, profile=profile, field=field, value="kept-value"
        )
    owner_client.post(f"/o/{org.slug}/settings/field/{field.uuid}/archive/")
    field.refresh_from_db()
    assert field.archived_at is not None
    with scopes_disabled():
        assert FieldValue.objects.get(field=field).value == "kept-value"
    response = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/")
    assert "kept-value" not in response.text  # archived fields leave the profile page


def test_fields_are_reordered(owner_client, org):
    factories.field(org, label="A")
    b = factories.field(org, label="B")
    owner_client.post(f"/o/{org.slug}/settings/field/{b.uuid}/move/", {"direction": "up"})
    with scopes_disabled():
        assert [f.label for f in DataField.objects.filter(organization=org)] == ["B", "A"]


def test_the_type_is_locked_once_values_exist(owner_client, org):
    field = factories.field(org, "text", label="T")
    profile = factories.contact(org)
    with scopes_disabled():
        FieldValue.objects.create(organization=org, profile=profile, field=field, value="x")
    owner_client.post(
        f"/o/{org.slug}/settings/field/{field.uuid}/",
        {"label": "T2", "type": "number", "max_size_mb": 10},
    )
    field.refresh_from_db()
    assert (field.label, field.type) == ("T2", "text")


def test_field_settings_are_404_to_another_organisation(outsider_client, org):
    field = factories.field(org)
    assert outsider_client.get(f"/o/{org.slug}/settings/field/{field.uuid}/").status_code == 404
    assert outsider_client.get(f"/o/globex/settings/field/{field.uuid}/").status_code == 404
