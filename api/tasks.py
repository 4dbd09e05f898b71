from __future__ import annotations

from celery import shared_task

from api import webhooks


@shared_task(acks_late=True)
def deliver_webhooks() -> int:
    return webhooks.deliver_due()
