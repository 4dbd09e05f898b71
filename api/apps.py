from __future__ import annotations

from typing import Any

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
        from api.actions import revoke_keys_of_removed_member
        from organizations.signals import member_removed

        member_removed.connect(revoke_keys_of_removed_member, dispatch_uid="api.keys.member")
        from api import events

        events.connect()

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        from celery.schedules import crontab
        from django.conf import settings

        return {
            # The drain is also the sweep: whatever the broker could not take, whatever a
            # killed worker left claimed, whatever waits for a retry is delivered from here.
            "api-webhooks": {
                "task": "api.tasks.deliver_webhooks",
                "schedule": float(settings.OUTBOX_SWEEP_SECONDS),
            },
            # Daily: bodies past settings.WEBHOOK_DELIVERY_RETENTION_DAYS go.
            "api-webhook-retention": {
                "task": "api.tasks.purge_deliveries",
                "schedule": crontab(hour=3, minute=25),
            },
        }

    def privacy_records(self, profile: Any) -> dict[str, Any]:
        from api.models import WebhookDelivery

        deliveries = WebhookDelivery.objects.filter(
            organization_id=profile.organization_id, profile_uuid=profile.uuid
        ).order_by("created_at")
        return {
            "webhook_deliveries": [
                {"id": str(d.uuid), "event": d.event, "status": d.status, "body": d.body}
                for d in deliveries
            ]
        }

    def privacy_erase(self, profile: Any) -> None:
        # A delivery's body names the person and their values: it goes with them, queued or
        # not, so neither a retry nor "send again" can post what was erased.
        from api.models import WebhookDelivery

        WebhookDelivery.objects.filter(
            organization_id=profile.organization_id, profile_uuid=profile.uuid
        ).delete()
