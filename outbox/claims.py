"""Claim → attempt → mark, for any table built on `Delivery`.

Crosses tenants by design: the caller runs it with scopes disabled.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
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
        waiting = waiting_organizations(model, now, batch_size)
        if not waiting:
            return []
        share = max(1, batch_size // len(waiting))
        claimed: list[int] = []
        for organization_id in waiting:
            mine = (
                Q(organization__isnull=True)
                if organization_id is None
                else Q(organization_id=organization_id)
            )
            claimed += list(
                due.filter(mine)
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


def waiting_organizations(model: type[Delivery], now: dt.datetime, limit: int) -> list[int | None]:
    """The organisations with rows due (None for rows of no organisation), the one whose
    oldest due row waited longest first: at most `limit`.

    Two probes of the `…_due_org` index per organisation with queued rows, walked from one
    to the next (a loose index scan), and one for the rows of none: grouping the due rows
    instead read every one of them at each claim, so that draining a backlog of n rows
    cost n² / batch reads."""
    table = model._meta.db_table
    queued = Delivery.Status.QUEUED
    moment = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        # The first queued row of the next organisation, in the index's own order, is also
        # its oldest: due if it is not in the future. Each probe orders by the index's two
        # columns from a range of organisations, an order only that index gives: probing
        # one organisation's oldest by equality instead, the planner may walk the due rows
        # in time order and filter, reading a whole backlog of another to find its first.
        # (Two probes for the two columns: SQLite has no LATERAL.)
        cursor.execute(
            f"""
            WITH RECURSIVE waiting (org, oldest) AS (
                SELECT * FROM (
                    SELECT organization_id, next_attempt_at FROM {table}
                    WHERE status = %s AND organization_id IS NOT NULL
                    ORDER BY organization_id, next_attempt_at LIMIT 1
                ) first
                UNION ALL
                SELECT (
                    SELECT organization_id FROM {table}
                    WHERE status = %s AND organization_id > waiting.org
                    ORDER BY organization_id, next_attempt_at LIMIT 1
                ), (
                    SELECT next_attempt_at FROM {table}
                    WHERE status = %s AND organization_id > waiting.org
                    ORDER BY organization_id, next_attempt_at LIMIT 1
                ) FROM waiting WHERE waiting.org IS NOT NULL
            )
            SELECT org FROM (
                SELECT org, oldest FROM waiting WHERE org IS NOT NULL AND oldest <= %s
                UNION ALL
                SELECT NULL, (
                    SELECT MIN(next_attempt_at) FROM {table}
                    WHERE status = %s AND organization_id IS NULL AND next_attempt_at <= %s
                )
            ) due WHERE oldest IS NOT NULL
            ORDER BY oldest, org IS NULL, org
            LIMIT %s
            """,  # noqa: S608 - the table's name comes from the model
            [queued, queued, queued, moment, queued, moment, limit],
        )
        return [org for (org,) in cursor.fetchall()]


def backoff(attempts: int) -> dt.timedelta:
    """Exponential: a minute, two, four… up to OUTBOX_RETRY_MAX_SECONDS."""
    seconds = settings.OUTBOX_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1)
    return dt.timedelta(seconds=min(seconds, settings.OUTBOX_RETRY_MAX_SECONDS))


def _carries(model: type[Delivery]) -> bool:
    """Whether rows of `model` can be carried by another (`outbox.models.Message`)."""
    return any(field.name == "carried_by" for field in model._meta.concrete_fields)


def _with_carried(model: type[Delivery], pks: list[int]) -> Q:
    """The rows `pks` and those still waiting that they carry: a carrier's outcome is theirs,
    written by the same statement."""
    chosen = Q(pk__in=pks)
    if _carries(model):
        chosen |= Q(carried_by__in=pks, status=Delivery.Status.QUEUED)
    return chosen


def mark_sent(
    model: type[Delivery], pk: int, now: dt.datetime | None = None, *, carries: bool = False
) -> None:
    """Runs once per message, between two SMTP exchanges: one short statement of constant
    text rather than a query the ORM compiles each time. A carrier (`carries`) marks the
    rows it carries in the same statement."""
    moment = connection.ops.adapt_datetimefield_value(now or timezone.now())
    params: list[Any] = [Delivery.Status.SENT, moment, pk]
    carried = ""
    if carries:
        carried = " OR (carried_by_id = %s AND status = %s)"
        params += [pk, Delivery.Status.QUEUED]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} SET status = %s, done_at = %s, last_error = ''"  # noqa: S608 - the table's name comes from the model
            f" WHERE id = %s{carried}",
            params,
        )


def mark_cancelled(model: type[Delivery], pks: list[int]) -> None:
    if pks:
        model.objects.filter(_with_carried(model, pks)).update(
            status=Delivery.Status.CANCELLED, done_at=timezone.now()
        )


def mark_undeliverable(model: type[Delivery], pk: int, error: str) -> None:
    model.objects.filter(_with_carried(model, [pk])).update(
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


def carry_wait() -> dt.timedelta:
    """How long a carried row waits, past its carrier's next attempt, before it looks at its
    carrier again. Its carrier's mark writes its outcome, so that look is only for a carrier
    gone or marked without it (`carry`): a lease's length."""
    return dt.timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)


def _update_pairs(
    model: type[Delivery], rows: list[tuple[int, int]], sql: str, params: list[Any]
) -> None:
    """`sql` (an UPDATE … FROM v, `{table}` its table) for the (id, carrier_id) rows of v."""
    values = ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS BIGINT))"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v (id, carrier_id) AS (VALUES {values}) "
            + sql.format(table=model._meta.db_table),
            [*(value for pair in rows for value in pair), *params],
        )


def carry(model: type[Delivery], rows: list[tuple[int, int]], until: dt.datetime) -> None:
    """Each (pk, carrier's pk) row still waiting is carried from now on: it is not claimed
    before `until`, and its carrier's mark writes its outcome. One statement for them all."""
    if not rows or not _carries(model):
        return
    _update_pairs(
        model,
        rows,
        """UPDATE {table} SET carried_by_id = v.carrier_id, next_attempt_at = %s
        FROM v WHERE {table}.id = v.id AND {table}.status = %s""",
        [connection.ops.adapt_datetimefield_value(until), Delivery.Status.QUEUED],
    )


def follow_carriers(model: type[Delivery], rows: list[tuple[int, int]], now: dt.datetime) -> None:
    """Each (pk, carrier's pk) row takes its carrier's outcome: sent, undeliverable or no
    longer needed as it was, at its moment. While the carrier waits, the row is carried by it
    (`carry`), its claim not counted as an attempt: nothing is given up for waiting. A
    carrier gone (deleted with what it was about) leaves nothing to send. A few statements
    for the batch, whatever the number of carriers."""
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
    waiting = [(pk, c) for pk, c in rows if c in carriers and carriers[c][0] == queued]
    if waiting:
        latest = max(due for status, due in carriers.values() if status == queued)
        until = max(latest, now) + carry_wait()
        if _carries(model):
            _update_pairs(
                model,
                waiting,
                """UPDATE {table} SET carried_by_id = v.carrier_id, next_attempt_at = %s,
                    attempts = {table}.attempts - 1
                FROM v WHERE {table}.id = v.id""",
                [connection.ops.adapt_datetimefield_value(until)],
            )
        else:
            model.objects.filter(pk__in=[pk for pk, _c in waiting]).update(
                next_attempt_at=until, attempts=F("attempts") - 1
            )
    done = [(pk, c) for pk, c in rows if c in carriers and carriers[c][0] != queued]
    if done:
        _update_pairs(
            model,
            done,
            """UPDATE {table} SET status = c.status, done_at = COALESCE(c.done_at, %s),
                last_error = c.last_error
            FROM v JOIN {table} c ON c.id = v.carrier_id
            WHERE {table}.id = v.id""",
            [connection.ops.adapt_datetimefield_value(now)],
        )
