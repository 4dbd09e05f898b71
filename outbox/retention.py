"""Retention of outgoing messages: a row holds no body (an e-mail is rendered when it is
sent), but its address and kind are still what was sent to whom; a row nothing else holds
goes settings.OUTBOX_RETENTION_DAYS after it was done (sent, given up or no longer needed).

A message another app links to (a dossier's, an invitation's, a day's e-mail: a one-to-one
link table pointing here) is that app's to delete, with what it belongs to (the dossiers'
purge, an invitation cancelled or replaced): the follow-up reads those while they exist.
Its delivery events go with it; a failing address keeps its reason and loses the link.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from outbox.models import Message


def cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=settings.OUTBOX_RETENTION_DAYS)


def expired(now: dt.datetime | None = None) -> QuerySet[Message]:
    before = cutoff(now)
    rows = Message.objects.exclude(status=Message.Status.QUEUED).filter(
        Q(done_at__lte=before) | Q(done_at__isnull=True, created_at__lte=before)
    )
    # The link tables of the apps above, found from the model rather than named: the outbox
    # imports none of them.
    for relation in Message._meta.related_objects:
        if relation.one_to_one:
            rows = rows.filter(**{f"{relation.name}__isnull": True})
    return rows


def purge_messages(now: dt.datetime | None = None, batch_size: int = 1000) -> int:
    """Deletes the messages past their retention that no other app holds, in batches, each
    in its transaction. Idempotent: a second run finds nothing. Crosses tenants: the caller
    runs it with scopes disabled."""
    rows = expired(now)
    purged = 0
    last = 0
    while True:
        with transaction.atomic():
            # On from the last batch, so that the rows kept (held by another app) are walked
            # once, not once a batch.
            batch = list(
                rows.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                return purged
            Message.objects.filter(pk__in=batch).delete()
        purged += len(batch)
        last = batch[-1]
