"""The migration that gave each dossier its group's policy (review, reminder ladder) as its
own columns keeps what the dossiers read through the foreign key until then: from the schema
before it, with data written through the historical models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from tests.schema_history import leaves, migrate, schema_at

# The leaves of the two apps before dossiers carried their policy.
BEFORE = [
    ("dossiers", "0016_review_item_rejections"),
    ("monitoring", "0009_schema_group_fields"),
]


@pytest.fixture
def old_apps(transactional_db: None) -> Iterator[Any]:
    with schema_at(BEFORE) as apps:
        yield apps


def _write_old_data(apps: Any) -> dict[str, int]:
    Organization = apps.get_model("organizations", "Organization")
    Profile = apps.get_model("profiles", "Profile")
    UpdateGroup = apps.get_model("monitoring", "UpdateGroup")
    Dossier = apps.get_model("dossiers", "Dossier")
    now = timezone.now()

    org = Organization.objects.create(name="Acme", slug="acme")
    person = Profile.objects.create(organization=org, kind="contact", last_name="Lovelace")
    reviewed = UpdateGroup.objects.create(
        organization=org,
        title="KYC",
        applies_to="contact",
        start_date=dt.date(2026, 1, 31),
        next_run_at=now,
        review_required=True,
        remind_after=[1, 5],
        remind_before=[],
    )
    plain = UpdateGroup.objects.create(
        organization=org,
        title="Address",
        applies_to="contact",
        start_date=dt.date(2026, 1, 31),
        next_run_at=now,
    )

    def dossier(group: Any, period: dt.date | None, status: str = "open", kind: str = "update"):
        return Dossier.objects.create(
            organization=org,
            profile=person,
            kind=kind,
            status=status,
            title="Request",
            update_group=group,
            period=period,
            created_at=now,
            expires_at=now + dt.timedelta(days=30),
        ).pk

    return {
        "reviewed_open": dossier(reviewed, dt.date(2026, 2, 28)),
        "reviewed_approved": dossier(reviewed, dt.date(2026, 1, 31), "approved"),
        "plain": dossier(plain, dt.date(2026, 1, 31), "to_review"),
        "expiry": dossier(None, None),
        "classic": dossier(None, None, kind="classic"),
    }


def test_each_dossier_carries_the_policy_it_read_from_its_group(old_apps):
    ids = _write_old_data(old_apps)
    apps = migrate(leaves())
    Dossier = apps.get_model("dossiers", "Dossier")

    def policy(name: str) -> tuple[bool, list[int], list[int]]:
        row = Dossier.objects.get(pk=ids[name])
        return row.review_required, row.remind_after, row.remind_before

    assert policy("reviewed_open") == (True, [1, 5], [])
    assert policy("reviewed_approved") == (True, [1, 5], [])
    assert policy("plain") == (False, [3, 10], [2])
    # No group: the ladder every such request had, and review asked of the fields' groups.
    assert policy("expiry") == (False, [3, 10], [2])
    assert policy("classic") == (False, [3, 10], [2])


def test_the_migration_goes_back(old_apps):
    ids = _write_old_data(old_apps)
    migrate(leaves())
    apps = migrate(BEFORE)
    Dossier = apps.get_model("dossiers", "Dossier")
    assert Dossier.objects.get(pk=ids["reviewed_open"]).update_group.review_required is True
    assert "review_required" not in {f.name for f in Dossier._meta.get_fields()}
