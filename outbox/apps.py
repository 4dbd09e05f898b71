from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = _("Outgoing messages")

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        from django.conf import settings

        return {
            # The drain is also the sweep: whatever the broker could not take, whatever a
            # killed worker left claimed, whatever waits for a retry goes out from here.
            "outbox-send": {
                "task": "outbox.tasks.send_messages",
                "schedule": float(settings.OUTBOX_SWEEP_SECONDS),
            },
        }
