"""Celery tasks of dossiers. Each takes ids, loads inside, and may run twice without harm.

E-mails are not sent here: they are outbox rows, drained by `outbox.tasks.send_messages`.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction
from django_scopes import scopes_disabled

from dossiers import actions, messages
from organizations.actors import Actor


@shared_task(acks_late=True)
def send_reminders() -> int:
    with scopes_disabled(), transaction.atomic():
        return messages.queue_reminders()


@shared_task(acks_late=True)
def purge_dossiers() -> int:
    with scopes_disabled():
        return actions.purge(actor=Actor.system("dossiers.tasks.purge_dossiers")).purged


@shared_task(acks_late=True)
def send_digests() -> int:
    with scopes_disabled(), transaction.atomic():
        return messages.queue_digests()
