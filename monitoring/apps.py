from __future__ import annotations

from typing import TYPE_CHECKING

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from organizations.models import Organization


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Data monitoring")

    def ready(self) -> None:
        from dossiers import fieldpolicy
        from dossiers.signals import dossier_notes
        from monitoring import overview, receivers, rolling, triggers
        from monitoring.overview import needing_attention_sql
        from monitoring.services import FieldPolicy, reschedule_organization
        from organizations.signals import time_zone_changed
        from profiles import attention
        from profiles.signals import history_notes

        attention.register(needing_attention_sql)
        attention.register_notes(rolling.any_schedule, rolling.field_notes)
        fieldpolicy.register(FieldPolicy())
        overview.connect()
        overview.read_with_memberships()
        triggers.connect()
        receivers.connect()
        dossier_notes.connect(triggers.dossier_reasons, dispatch_uid="monitoring-trigger-reasons")
        history_notes.connect(triggers.history_reasons, dispatch_uid="monitoring-trigger-history")
        time_zone_changed.connect(reschedule_organization, dispatch_uid="monitoring-reschedule")

    def seed_demo(self, organization: Organization) -> None:
        from monitoring.demo import seed

        seed(organization)

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        from celery.schedules import crontab
        from django.conf import settings

        return {
            "monitoring-dispatch": {
                "task": "monitoring.tasks.dispatch_due_groups",
                "schedule": float(settings.DISPATCH_INTERVAL_SECONDS),
            },
            "monitoring-unfinished-runs": {
                "task": "monitoring.tasks.sweep_unfinished_runs",
                "schedule": 300.0,
            },
            "monitoring-expired-values": {
                "task": "monitoring.tasks.open_expired_values",
                "schedule": crontab(minute=30, hour=6),
            },
            "monitoring-schedules-check": {
                "task": "monitoring.tasks.check_profile_schedules",
                "schedule": crontab(minute=45, hour=3),
            },
            "monitoring-overview-check": {
                "task": "monitoring.tasks.check_overview_cells",
                "schedule": crontab(minute=15, hour=3),
            },
        }
