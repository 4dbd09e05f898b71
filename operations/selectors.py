"""What the operators' metrics and an organisation's status page count, each from another
app's selector: cheap queries on partial indexes (queued and refused rows, unfinished runs)
or small tables, never a scan of history (tests/operations pin their number)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q

from api.models import WebhookDelivery, WebhookEndpoint
from dossiers.filters import DossierFilterSet
from dossiers.models import Dossier
from home.selectors import RunProgress, runs_in_progress
from monitoring.selectors import last_dispatch_pass, unfinished_runs_count
from organizations.models import Organization
from outbox.models import Message
from outbox.selectors import backlog, failing_count, undeliverable_count
from profiles.storage import pending_count


def _age(oldest: dt.datetime | None, now: dt.datetime) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


def gauges(now: dt.datetime) -> dict[str, float]:
    """Every organisation's, by metric name (operations.metrics says what each means)."""
    messages = backlog(Message)
    webhooks = backlog(WebhookDelivery)
    found = {
        "outbox_messages_waiting": messages.waiting,
        "outbox_oldest_waiting_age_seconds": _age(messages.oldest, now),
        "outbox_messages_undeliverable": undeliverable_count(Message),
        "runs_unfinished": unfinished_runs_count(),
        "files_pending_deletion": pending_count(),
        "webhook_deliveries_waiting": webhooks.waiting,
        "webhook_oldest_waiting_age_seconds": _age(webhooks.oldest, now),
        "webhook_deliveries_undeliverable": undeliverable_count(WebhookDelivery),
    }
    last = last_dispatch_pass()
    if last is not None:
        found |= {
            "dispatch_last_pass_timestamp_seconds": last.started_at.timestamp(),
            "dispatch_last_pass_duration_seconds": last.duration,
            "dispatch_last_pass_runs": last.runs,
        }
    return found


@dataclass(frozen=True)
class FailingEndpoint:
    endpoint: WebhookEndpoint
    waiting: int
    undeliverable: int


def failing_endpoints(organization_id: int) -> list[FailingEndpoint]:
    """The organisation's webhook endpoints with deliveries that failed at least once and
    are waiting for another attempt, or were given up; one query."""
    endpoints = (
        WebhookEndpoint.objects.filter(organization_id=organization_id)
        # Only the failed deliveries are joined: the others may be many.
        .filter(
            Q(deliveries__status="undeliverable")
            | Q(deliveries__status="queued", deliveries__attempts__gt=0)
        )
        .annotate(
            waiting=Count(
                "deliveries",
                filter=Q(deliveries__status="queued", deliveries__attempts__gt=0),
            ),
            undeliverable=Count("deliveries", filter=Q(deliveries__status="undeliverable")),
        )
        .order_by("url", "id")
    )
    return [
        FailingEndpoint(endpoint=e, waiting=e.waiting, undeliverable=e.undeliverable)
        for e in endpoints
    ]


@dataclass(frozen=True)
class Status:
    """An organisation's Settings > Status."""

    waiting: int
    oldest_waiting: dt.datetime | None
    undeliverable: int
    dossiers_not_reached: int
    failing_addresses: int
    runs: list[RunProgress]
    endpoints: list[FailingEndpoint]


# E-mails waiting longer than this mean the drain (every minute) is not running.
STALLED_AFTER = dt.timedelta(minutes=30)


def organization_status(organization: Organization) -> Status:
    messages = backlog(Message, organization.pk)
    not_reached: int = DossierFilterSet(
        {"outstanding": "true", "undeliverable": "true"},
        queryset=Dossier.objects.filter(organization=organization),
    ).qs.count()
    return Status(
        waiting=messages.waiting,
        oldest_waiting=messages.oldest,
        undeliverable=undeliverable_count(Message, organization.pk),
        dossiers_not_reached=not_reached,
        failing_addresses=failing_count(organization.pk),
        runs=runs_in_progress(organization),
        endpoints=failing_endpoints(organization.pk),
    )
