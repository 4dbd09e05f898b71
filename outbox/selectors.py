"""What the apps to the right read of the outbox: which addresses fail, and how many; how
many rows wait to be sent, and how many were given up (the operators' metrics, Settings >
Status).

An address fails once an e-mail service reported a hard bounce or a complaint for it; the
outbox sends nothing more to it until staff change the address or say to try again
(`organizations.actions.retry_address`). Addresses compare in lower case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.db.models.functions import Lower, Trim
from django_scopes import scopes_disabled

from outbox.models import Delivery, FailingAddress


def failing(organization_id: int, address: str) -> FailingAddress | None:
    """The failing address of this organisation, if `address` is one."""
    if not address:
        return None
    return FailingAddress.objects.filter(
        organization_id=organization_id, address=address.strip().lower()
    ).first()


def address_fails(organization: str = "organization_id", address: str = "email") -> Exists:
    """An expression: whether the address in the outer row's column `address` fails in the
    organisation of its column `organization`, compared as `failing_addresses` does (lower
    case, trimmed). Annotated on a profile, it is read with it, no query of its own."""
    return Exists(
        FailingAddress.objects.filter(
            organization_id=OuterRef(organization), address=Lower(Trim(OuterRef(address)))
        )
    )


def failing_addresses(organization_id: int, addresses: Iterable[str]) -> dict[str, FailingAddress]:
    """Those of `addresses` that fail in this organisation, by lower-case address; one query."""
    wanted = {address.strip().lower() for address in addresses if address}
    if not wanted:
        return {}
    return {
        found.address: found
        for found in FailingAddress.objects.filter(
            organization_id=organization_id, address__in=wanted
        )
    }


def failing_among(
    pairs: Iterable[tuple[int | None, str]],
) -> dict[tuple[int, str], FailingAddress]:
    """The failing ones among (organisation, address) pairs of several organisations, by
    (organisation id, lower-case address); one query. Crosses tenants: the outbox drain's."""
    wanted: dict[int, set[str]] = {}
    for organization_id, address in pairs:
        if organization_id is not None and address:
            wanted.setdefault(organization_id, set()).add(address.strip().lower())
    if not wanted:
        return {}
    condition = Q()
    for organization_id, addresses in wanted.items():
        condition |= Q(organization_id=organization_id, address__in=addresses)
    with scopes_disabled():
        return {
            (found.organization_id, found.address): found
            for found in FailingAddress.objects.filter(condition)
        }


def failing_count(organization_id: int) -> int:
    """How many addresses of the organisation fail: the home's "e-mails not reaching" count."""
    return FailingAddress.objects.filter(organization_id=organization_id).count()


@dataclass(frozen=True)
class Backlog:
    """Rows of an outgoing table still to send, and when the oldest of them was written."""

    waiting: int
    oldest: dt.datetime | None


def backlog(model: type[Delivery], organization_id: int | None = None) -> Backlog:
    """The queued rows of `model` (e-mails, webhook deliveries): all organisations' for the
    operators' metrics, one organisation's for its status page. One query, on the rows the
    partial index of due rows holds, so it costs the size of the queue, not of the table."""
    with scopes_disabled():
        rows = model.objects.filter(status=Delivery.Status.QUEUED)
        if organization_id is not None:
            rows = rows.filter(organization_id=organization_id)
        found = rows.aggregate(waiting=Count("id"), oldest=Min("created_at"))
    return Backlog(waiting=found["waiting"], oldest=found["oldest"])


def undeliverable_count(model: type[Delivery], organization_id: int | None = None) -> int:
    """Rows of `model` given up as undeliverable (all organisations', or one's)."""
    with scopes_disabled():
        rows = model.objects.filter(status=Delivery.Status.UNDELIVERABLE)
        if organization_id is not None:
            rows = rows.filter(organization_id=organization_id)
        return rows.count()
