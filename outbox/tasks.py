from __future__ import annotations

from celery import shared_task

from outbox import mail


@shared_task(acks_late=True)
def send_messages() -> int:
    return mail.send_due()
