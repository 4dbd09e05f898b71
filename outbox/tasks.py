from __future__ import annotations

from celery import shared_task
from django_scopes import scopes_disabled

from outbox import mail, retention


@shared_task(acks_late=True)
def send_messages() -> int:
    return mail.send_due()


@shared_task(acks_late=True)
def purge_messages() -> int:
    # Runs again safely: what is gone stays gone, what remains is found next time.
    with scopes_disabled():
        return retention.purge_messages()
