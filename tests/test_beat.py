"""Periodic jobs are declared by their apps; beat installs them all."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app

pytestmark = pytest.mark.django_db

EXPECTED = {
    "monitoring-dispatch": "monitoring.tasks.dispatch_due_groups",
    "monitoring-unfinished-runs": "monitoring.tasks.sweep_unfinished_runs",
    "monitoring-expired-values": "monitoring.tasks.open_expired_values",
    "monitoring-overview-check": "monitoring.tasks.check_overview_cells",
    "monitoring-schedules-check": "monitoring.tasks.check_profile_schedules",
    "dossiers-reminders": "dossiers.tasks.send_reminders",
    "dossiers-digests": "dossiers.tasks.send_digests",
    "dossiers-purge": "dossiers.tasks.purge_dossiers",
    "outbox-send": "outbox.tasks.send_messages",
    "outbox-retention": "outbox.tasks.purge_messages",
    "profiles-pending-deletions": "profiles.tasks.delete_pending_files",
    "api-webhooks": "api.tasks.deliver_webhooks",
    "api-webhook-retention": "api.tasks.purge_deliveries",
    "imports-purge-exports": "imports.tasks.purge_exports",
}


def test_each_app_declares_its_entries_and_settings_name_no_task():
    assert {name: entry["task"] for name, entry in app.conf.beat_schedule.items()} == EXPECTED
    source = (settings.BASE_DIR / "config" / "settings.py").read_text()
    assert not any(task in source for task in EXPECTED.values())


@pytest.mark.django_db(transaction=True)  # the scheduler closes stale connections itself
def test_beat_installs_every_entry_in_its_tables():
    DatabaseScheduler(app=app)
    installed = dict(PeriodicTask.objects.values_list("name", "task"))
    assert EXPECTED.items() <= installed.items()


def test_every_declared_task_is_registered():
    app.loader.import_default_modules()
    assert set(EXPECTED.values()) <= set(app.tasks)
