"""Groups saved before cadences existed keep working unchanged: calendar, no tiers, no
per-profile rows, and the dispatcher sends them as before (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import TestCase
from django_scopes import scopes_disabled

from tests.schema_history import leaves, leaves_but, migrate, schema_at


@pytest.fixture
def old_apps(transactional_db: None) -> Iterator[Any]:
    with schema_at(leaves_but("monitoring", "0013_audience_audience_and_spread")) as apps:
        yield apps


def test_a_group_saved_before_cadences_stays_a_calendar_group(old_apps):
    Organization = old_apps.get_model("organizations", "Organization")
    Profile = old_apps.get_model("profiles", "Profile")
    DataField = old_apps.get_model("profiles", "DataField")
    UpdateGroup = old_apps.get_model("monitoring", "UpdateGroup")
    GroupField = old_apps.get_model("monitoring", "GroupField")
    org = Organization.objects.create(name="Acme", slug="acme", time_zone="Europe/Paris")
    due = dt.datetime(2026, 2, 28, 7, tzinfo=dt.UTC)
    old = UpdateGroup.objects.create(
        organization=org,
        title="KYC",
        applies_to="contact",
        start_date=dt.date(2026, 1, 31),
        next_index=1,
        next_run_at=due,
    )
    field = DataField.objects.create(
        organization=org, applies_to="contact", label="Proof", type="text"
    )
    GroupField.objects.create(field=field, group=old, organization=org, applies_to="contact")
    Profile.objects.create(organization=org, kind="contact", last_name="Doe", email="d@ex.com")

    migrate(leaves())

    from dossiers.models import Dossier
    from monitoring.dispatch import dispatch_due
    from monitoring.models import Cadence, ProfileSchedule, UpdateGroup, UpdateRun

    with scopes_disabled():
        group = UpdateGroup.objects.get(pk=old.pk)
        assert (group.cadence, group.tier_field_id, group.tiers) == (Cadence.CALENDAR, None, [])
        with TestCase.captureOnCommitCallbacks(execute=True):
            dispatch_due(now=due + dt.timedelta(minutes=1))
        assert UpdateRun.objects.get().period == dt.date(2026, 2, 28)
        assert Dossier.objects.filter(update_group=group).count() == 1
        assert not ProfileSchedule.objects.exists()
