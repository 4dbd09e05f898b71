from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = _("API")

    def ready(self) -> None:
        # Registers how the schema describes our key authentication.
        from api import schema  # noqa: F401
        from api.authentication import may_send_full_bodies
        from organizations.security import FULL_BODY_GRANTS

        if may_send_full_bodies not in FULL_BODY_GRANTS:
            FULL_BODY_GRANTS.append(may_send_full_bodies)
        from api import events

        events.connect()

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        from django.conf import settings

        return {
            # The drain is also the sweep: whatever the broker could not take, whatever a
            # killed worker left claimed, whatever waits for a retry is delivered from here.
            "api-webhooks": {
                "task": "api.tasks.deliver_webhooks",
                "schedule": float(settings.OUTBOX_SWEEP_SECONDS),
            },
        }
