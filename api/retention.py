"""Retention of webhook deliveries: a body holds a person's old and new values, and is kept
only as long as it may still be needed (settings.WEBHOOK_DELIVERY_RETENTION_DAYS).

A delivery is deleted that many days after it was done — sent, given up, or no longer
needed; one never done after that long (a test event to an endpoint long refused, say) too.
A queued delivery still promised within the period stays: the drain keeps that promise.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.models import WebhookDelivery


def cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS)


def purge_deliveries(
    now: dt.datetime | None = None,
    batch_size: int = 1000,
    *,
    on_batch: Callable[[Counter[int]], None] | None = None,
) -> int:
    """Deletes the deliveries past their retention, in batches, each in its transaction;
    `on_batch` is told, inside it, how many went per organisation id. Idempotent: a second
    run finds nothing. Crosses tenants: the caller runs it with scopes disabled."""
    before = cutoff(now)
    expired = WebhookDelivery.objects.filter(
        Q(done_at__lte=before) | Q(done_at__isnull=True, created_at__lte=before)
    )
    purged = 0
    while True:
        with transaction.atomic():
            batch = list(expired.order_by("pk").values_list("pk", "organization_id")[:batch_size])
            if not batch:
                return purged
            WebhookDelivery.objects.filter(pk__in=[pk for pk, _org in batch]).delete()
            if on_batch is not None:
                on_batch(Counter(org for _pk, org in batch if org is not None))
        purged += len(batch)
