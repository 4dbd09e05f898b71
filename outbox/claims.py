"""Claim → attempt → mark, for any table built on `Delivery`.

Crosses tenants by design: the caller runs it with scopes disabled.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Min
from django.utils import timezone

from outbox.models import Delivery


def claim(model: type[Delivery], now: dt.datetime, batch_size: int) -> list[int]:
    """Claims up to `batch_size` due rows, shared fairly among the organisations waiting.

    Each organisation gets an equal share, the longest-waiting first, so one tenant's
    backlog (or one tenant's failing address, retried) never holds another's messages back.
    Rows are locked with SKIP LOCKED only for the claim itself; the slow sending happens
    after the commit, protected by the lease.
    """
    lease = dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        due = model.objects.filter(status=Delivery.Status.QUEUED, next_attempt_at__lte=now)
        waiting = list(
            due.values("organization_id")
            .annotate(oldest=Min("next_attempt_at"))
            .order_by("oldest", "organization_id")
            .values_list("organization_id", flat=True)[:batch_size]
        )
        if not waiting:
            return []
        share = max(1, batch_size // len(waiting))
        claimed: list[int] = []
        for organization_id in waiting:
            claimed += list(
                due.filter(organization_id=organization_id)
                .order_by("next_attempt_at", "id")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[: min(share, batch_size - len(claimed))]
            )
            if len(claimed) >= batch_size:
                break
        model.objects.filter(pk__in=claimed).update(
            next_attempt_at=now + lease, attempts=F("attempts") + 1
        )
    return claimed


def backoff(attempts: int) -> dt.timedelta:
    """Exponential: a minute, two, four… up to OUTBOX_RETRY_MAX_SECONDS."""
    seconds = settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return dt.timedelta(seconds=min(seconds, settings.OUTBOX_RETRY_MAX_SECONDS))


def mark_sent(model: type[Delivery], pk: int, now: dt.datetime | None = None) -> None:
    """Runs once per message, between two SMTP exchanges: one short statement of constant
    text rather than a query the ORM compiles each time."""
    moment = connection.ops.adapt_datetimefield_value(now or timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET status = %s, done_at = %s, last_error = ''"  # noqa: S608 - the table's name comes from the model
            " WHERE id = %s",
            [Delivery.Status.SENT, moment, pk],
        )


def mark_cancelled(model: type[Delivery], pks: list[int]) -> None:
    if pks:
        model.objects.filter(pk__in=pks).update(
            status=Delivery.Status.CANCELLED, done_at=timezone.now()
        )


def mark_undeliverable(model: type[Delivery], pk: int, error: str) -> None:
    model.objects.filter(pk=pk).update(
        status=Delivery.Status.UNDELIVERABLE, done_at=timezone.now(), last_error=error[:500]
    )


def mark_retry(
    model: type[Delivery], rows: list[tuple[int, int]], error: str, now: dt.datetime
) -> int:
    """A temporary failure: each (pk, attempts) row comes due again after its backoff, or is
    given up as undeliverable after OUTBOX_MAX_ATTEMPTS. Returns how many were given up."""
    given_up = 0
    for pk, attempts in rows:
        if attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            mark_undeliverable(model, pk, error)
            given_up += 1
        else:
            model.objects.filter(pk=pk).update(
                next_attempt_at=now + backoff(attempts), last_error=error[:500]
            )
    return given_up


# How long a carried message waits, past its carrier's next attempt, before it looks again.
CARRIER_WAIT = dt.timedelta(minutes=1)


def follow_carriers(model: type[Delivery], rows: list[tuple[int, int]], now: dt.datetime) -> None:
    """Each (pk, carrier's pk) row takes its carrier's outcome: sent, undeliverable or no
    longer needed as it was, at its moment. While the carrier waits, the row waits a little
    longer than the batch's latest carrier, its claim not counted as an attempt: nothing is
    given up for waiting. A carrier gone (deleted with what it was about) leaves nothing to
    send. A few statements for the batch, whatever the number of carriers."""
    if not rows:
        return
    carriers = {
        pk: (status, due)
        for pk, status, due in model.objects.filter(
            pk__in={carrier for _pk, carrier in rows}
        ).values_list("pk", "status", "next_attempt_at")
    }
    gone = [pk for pk, carrier in rows if carrier not in carriers]
    mark_cancelled(model, gone)
    queued = Delivery.Status.QUEUED
    waiting = [pk for pk, carrier in rows if carrier in carriers and carriers[carrier][0] == queued]
    if waiting:
        latest = max(due for status, due in carriers.values() if status == queued)
        model.objects.filter(pk__in=waiting).update(
            next_attempt_at=max(latest, now) + CARRIER_WAIT, attempts=F("attempts") - 1
        )
    done = [(pk, c) for pk, c in rows if c in carriers and carriers[c][0] != queued]
    if not done:
        return
    table = model._meta.db_table
    values = ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS BIGINT))"] * len(done))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH v (id, carrier_id) AS (VALUES {values})
            UPDATE {table} SET status = c.status, done_at = COALESCE(c.done_at, %s),
                last_error = c.last_error
            FROM v JOIN {table} c ON c.id = v.carrier_id
            WHERE {table}.id = v.id""",  # noqa: S608 - the table's name comes from the model
            [
                *(value for pair in done for value in pair),
                connection.ops.adapt_datetimefield_value(now),
            ],
        )
