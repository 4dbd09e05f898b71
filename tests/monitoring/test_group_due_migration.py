"""The migration that moved a group's next occurrence to its `GroupDue` row copies every
group's, marks which the dispatcher claims, and going back restores the group's columns
(SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_scopes import scopes_disabled

BEFORE = ("monitoring", "0014_cadence_rolling_tiered")


def _targets(monitoring: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """Every app at its leaf, monitoring at `monitoring` when given."""
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    return [monitoring if monitoring and app == "monitoring" else (app, n) for app, n in leaves]


def _migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_apps(transactional_db: None) -> Iterator[Any]:
    apps = _migrate(_targets(BEFORE))
    try:
        yield apps
    finally:
        _migrate(_targets())


def _old_groups(apps: Any) -> dict[str, Any]:
    Organization = apps.get_model("organizations", "Organization")
    UpdateGroup = apps.get_model("monitoring", "UpdateGroup")
    org = Organization.objects.create(name="Acme", slug="acme", time_zone="Europe/Paris")
    due = dt.datetime(2026, 2, 28, 7, tzinfo=dt.UTC)
    common = {"organization": org, "applies_to": "contact", "start_date": dt.date(2026, 1, 31)}
    return {
        "calendar": UpdateGroup.objects.create(
            title="KYC", next_index=1, next_run_at=due, **common
        ),
        "paused": UpdateGroup.objects.create(
            title="Paused", next_index=3, next_run_at=due, is_active=False, **common
        ),
        "rolling": UpdateGroup.objects.create(
            title="Rolling", next_index=0, next_run_at=due, cadence="rolling", **common
        ),
    }


def test_each_group_keeps_its_next_occurrence_and_only_the_active_calendar_one_is_claimed(
    old_apps,
):
    old = _old_groups(old_apps)
    _migrate(_targets())

    from monitoring.dispatch import dispatch_due
    from monitoring.models import GroupDue, UpdateGroup, UpdateRun

    due = dt.datetime(2026, 2, 28, 7, tzinfo=dt.UTC)
    with scopes_disabled():
        rows = {
            d.group_id: (d.next_index, d.next_run_at, d.dispatched) for d in GroupDue.objects.all()
        }
        assert rows == {
            old["calendar"].pk: (1, due, True),
            old["paused"].pk: (3, due, False),
            old["rolling"].pk: (0, due, False),
        }
        assert UpdateGroup.objects.get(pk=old["paused"].pk).next_index == 3
        dispatch_due(now=due + dt.timedelta(minutes=1), fan_out=False)
        assert list(UpdateRun.objects.values_list("group_id", flat=True)) == [old["calendar"].pk]


def test_going_back_puts_the_next_occurrence_on_the_group_again(old_apps):
    old = _old_groups(old_apps)
    _migrate(_targets())
    from monitoring.models import GroupDue

    moved = dt.datetime(2026, 5, 31, 6, tzinfo=dt.UTC)
    with scopes_disabled():
        GroupDue.objects.filter(group_id=old["calendar"].pk).update(next_index=2, next_run_at=moved)

    apps = _migrate(_targets(BEFORE))

    UpdateGroup = apps.get_model("monitoring", "UpdateGroup")
    group = UpdateGroup.objects.get(pk=old["calendar"].pk)
    assert (group.next_index, group.next_run_at) == (2, moved)
    assert UpdateGroup.objects.get(pk=old["paused"].pk).next_index == 3
