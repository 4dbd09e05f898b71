"""The migrations that took the upward foreign keys out of the lower apps' tables keep every
link: from the schema as it was (the leaf migrations before them), with data written through
the historical models, forward to today's, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from tests.schema_history import leaves, migrate, schema_at

# The leaf of each app before the schema followed the layers.
BEFORE = [
    ("api", "0003_lighter_delivery_indexes"),
    ("dossiers", "0011_item_remove_requested"),
    ("monitoring", "0008_run_group_index_covered"),
    ("organizations", "0009_audit_actor"),
    ("outbox", "0003_lighter_message_indexes"),
    ("profiles", "0008_profile_newest_first"),
]


@pytest.fixture
def old_apps(transactional_db: None) -> Iterator[Any]:
    with schema_at(BEFORE) as apps:
        yield apps


def _write_old_data(apps: Any) -> dict[str, Any]:
    Organization = apps.get_model("organizations", "Organization")
    Invitation = apps.get_model("organizations", "Invitation")
    ApiKey = apps.get_model("api", "ApiKey")
    Profile = apps.get_model("profiles", "Profile")
    DataField = apps.get_model("profiles", "DataField")
    History = apps.get_model("profiles", "FieldValueHistory")
    UpdateGroup = apps.get_model("monitoring", "UpdateGroup")
    Dossier = apps.get_model("dossiers", "Dossier")
    Message = apps.get_model("outbox", "Message")
    now = timezone.now()

    org = Organization.objects.create(name="Acme", slug="acme")
    group = UpdateGroup.objects.create(
        organization=org,
        title="KYC",
        applies_to="contact",
        start_date=dt.date(2026, 1, 31),
        next_run_at=now,
    )
    monitored = DataField.objects.create(
        organization=org, applies_to="contact", label="Proof", type="text", update_group=group
    )
    free = DataField.objects.create(
        organization=org, applies_to="contact", label="Note", type="text"
    )
    person = Profile.objects.create(
        organization=org, kind="contact", last_name="Lovelace", email="ada@example.com"
    )
    dossier = Dossier.objects.create(
        organization=org,
        profile=person,
        kind="update",
        status="open",
        title="KYC",
        update_group=group,
        period=dt.date(2026, 1, 31),
        created_at=now,
        expires_at=now + dt.timedelta(days=30),
    )
    invitation_to_dossier = Message.objects.create(
        organization=org,
        key=f"dossiers.invitation:{dossier.pk}:{person.pk}",
        kind="dossiers.invitation",
        address=person.email,
        status="undeliverable",
        dossier=dossier,
        profile=person,
    )
    staff_notice = Message.objects.create(
        organization=org,
        key=f"dossiers.staff_notice:{dossier.pk}",
        kind="dossiers.staff_notice",
        address="owner@example.com",
        dossier=dossier,
    )
    invitation = Invitation.objects.create(
        organization=org,
        email="new@example.com",
        token_hash="x" * 64,
        expires_at=now + dt.timedelta(days=7),
    )
    invitation_message = Message.objects.create(
        organization=org,
        key=f"organizations.member_invitation:{invitation.pk}",
        kind="organizations.member_invitation",
        address=invitation.email,
        invitation=invitation,
    )
    digest = Message.objects.create(
        organization=org, key="dossiers.digest:1", kind="dossiers.digest", address="o@x.org"
    )
    key = ApiKey.objects.create(organization=org, name="CRM sync", prefix="abc", key_hash="h" * 64)
    by_key = History.objects.create(
        organization=org, profile=person, field=free, new_value="x", source="api", api_key=key
    )
    by_dossier = History.objects.create(
        organization=org,
        profile=person,
        field=monitored,
        new_value="y",
        source="dossier",
        recipient=person,
        dossier=dossier,
        dossier_uuid=None,  # an older row: the migration fills it from the dossier
    )
    return {
        "group": group.pk,
        "monitored": monitored.pk,
        "free": free.pk,
        "person": person.pk,
        "dossier": dossier.pk,
        "dossier_uuid": dossier.uuid,
        "invitation_to_dossier": invitation_to_dossier.pk,
        "staff_notice": staff_notice.pk,
        "invitation": invitation.pk,
        "invitation_message": invitation_message.pk,
        "digest": digest.pk,
        "key_uuid": key.uuid,
        "by_key": by_key.pk,
        "by_dossier": by_dossier.pk,
    }


def test_every_link_survives_the_move_out_of_the_lower_apps_tables(old_apps):
    ids = _write_old_data(old_apps)
    apps = migrate(leaves())

    GroupField = apps.get_model("monitoring", "GroupField")
    assert list(GroupField.objects.values_list("field_id", "group_id", "applies_to")) == [
        (ids["monitored"], ids["group"], "contact")
    ]

    DossierMessage = apps.get_model("dossiers", "DossierMessage")
    assert set(DossierMessage.objects.values_list("message_id", "dossier_id", "profile_id")) == {
        (ids["invitation_to_dossier"], ids["dossier"], ids["person"]),
        (ids["staff_notice"], ids["dossier"], None),
    }
    InvitationMessage = apps.get_model("organizations", "InvitationMessage")
    assert list(InvitationMessage.objects.values_list("message_id", "invitation_id")) == [
        (ids["invitation_message"], ids["invitation"])
    ]
    Message = apps.get_model("outbox", "Message")
    assert Message.objects.count() == 4
    assert {f.name for f in Message._meta.get_fields()}.isdisjoint(
        {"dossier", "profile", "invitation"}
    )

    History = apps.get_model("profiles", "FieldValueHistory")
    by_key = History.objects.get(pk=ids["by_key"])
    assert (by_key.api_key_uuid, by_key.api_key_name) == (ids["key_uuid"], "CRM sync")
    by_dossier = History.objects.get(pk=ids["by_dossier"])
    assert by_dossier.dossier_uuid == ids["dossier_uuid"]
    assert (by_dossier.api_key_uuid, by_dossier.api_key_name) == (None, "")
    DataField = apps.get_model("profiles", "DataField")
    assert "update_group" not in {f.name for f in DataField._meta.get_fields()}


def test_the_migrations_go_back_with_their_links(old_apps):
    """Reversible: back to the old schema, every link is in its old column again."""
    ids = _write_old_data(old_apps)
    migrate(leaves())
    apps = migrate(BEFORE)
    Message = apps.get_model("outbox", "Message")
    assert Message.objects.get(pk=ids["invitation_to_dossier"]).dossier_id == ids["dossier"]
    assert Message.objects.get(pk=ids["invitation_to_dossier"]).profile_id == ids["person"]
    assert Message.objects.get(pk=ids["invitation_message"]).invitation_id == ids["invitation"]
    DataField = apps.get_model("profiles", "DataField")
    assert DataField.objects.get(pk=ids["monitored"]).update_group_id == ids["group"]
    assert DataField.objects.get(pk=ids["free"]).update_group_id is None
    History = apps.get_model("profiles", "FieldValueHistory")
    ApiKey = apps.get_model("api", "ApiKey")
    key = ApiKey.objects.get(uuid=ids["key_uuid"])
    assert History.objects.get(pk=ids["by_key"]).api_key_id == key.pk
    assert History.objects.get(pk=ids["by_dossier"]).dossier_id == ids["dossier"]
