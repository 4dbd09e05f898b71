from __future__ import annotations

from celery import shared_task
from django_scopes import scopes_disabled

from api import actions, webhooks
from organizations.actors import Actor


@shared_task(acks_late=True)
def deliver_webhooks() -> int:
    return webhooks.deliver_due()


@shared_task(acks_late=True)
def purge_deliveries() -> int:
    # Runs again safely: what is gone stays gone, what remains is found next time.
    with scopes_disabled():
        return actions.purge_deliveries(actor=Actor.system("api.tasks.purge_deliveries"))
