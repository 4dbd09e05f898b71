from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = _("Outgoing messages")

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        from celery.schedules import crontab
        from django.conf import settings

        return {
            # The drain is also the sweep: whatever the broker could not take, whatever a
            # killed worker left claimed, whatever waits for a retry goes out from here.
            "outbox-send": {
                "task": "outbox.tasks.send_messages",
                "schedule": float(settings.OUTBOX_SWEEP_SECONDS),
            },
            # Daily: messages no other app holds, past settings.OUTBOX_RETENTION_DAYS, go.
            "outbox-retention": {
                "task": "outbox.tasks.purge_messages",
                "schedule": crontab(hour=3, minute=35),
            },
        }

    # A person's address may be failing: part of what is held about them, and erased with them.

    def privacy_records(self, profile: Any) -> dict[str, Any]:
        from outbox.models import FailingAddress

        return {
            "failing_addresses": [
                {
                    "address": row.address,
                    "reason": row.reason,
                    "detail": row.detail,
                    "since": row.since.isoformat(),
                }
                for row in FailingAddress.objects.filter(
                    organization_id=profile.organization_id,
                    address=(profile.email or "").strip().lower(),
                )
            ]
        }

    def privacy_erase(self, profile: Any) -> None:
        from outbox.models import FailingAddress

        FailingAddress.objects.filter(
            organization_id=profile.organization_id, address=(profile.email or "").strip().lower()
        ).delete()
