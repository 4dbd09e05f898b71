"""Webhooks: the organisation's events, delivered to its endpoints through the outbox.

A delivery is a row written in the transaction of the event (outbox.models.Delivery), drained
by claim → POST → mark, retried with the outbox's backoff (a minute, doubling up to six
hours, twelve attempts: about a day), then marked undeliverable. Its body is JSON and never
changes between attempts; it carries the delivery's id so that a receiver can ignore a
repeat. `X-Signature` is `t=<unix time>,v1=<hex HMAC-SHA256 of "<unix time>." + body under
the endpoint's secret>`: the time lets a receiver refuse an old replay.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid as uuid_module
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_scopes import scopes_disabled

from api.models import WebhookDelivery, WebhookEndpoint
from outbox import claims
from outbox.models import Delivery

logger = logging.getLogger(__name__)

SWEEP = "api.tasks.deliver_webhooks"
TIMEOUT_SECONDS = 10
EVENTS = {
    "dossier.sent": gettext_lazy("A dossier was sent to a client"),
    "dossier.submitted": gettext_lazy("A client submitted a dossier"),
    "dossier.approved": gettext_lazy("A dossier's answers were approved"),
    "value.changed": gettext_lazy("A profile's value changed"),
    "value.expired": gettext_lazy("A profile's value expired"),
    "run.finished": gettext_lazy("An update group's run opened its dossiers"),
}
TEST_EVENT = "webhook.test"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """What a receiver does (the README shows it): recompute, compare in constant time."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(timezone.now().timestamp() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)


def check_url(url: str) -> None:
    """Only http(s); in production, never an address of a private or local network.

    Checked when the endpoint is saved and again before each delivery, since a name may
    resolve elsewhere by then.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValidationError(_("Enter an http:// or https:// address."), code="scheme")
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port)}
    except (OSError, UnicodeError, ValueError):
        raise ValidationError(_("This address does not resolve."), code="resolve") from None
    for address in found:
        if not ipaddress.ip_address(str(address).split("%")[0]).is_global:
            raise ValidationError(
                _("This address is on a private or local network: it cannot receive webhooks."),
                code="private",
            )


def listeners(organization_id: int, event: str) -> list[WebhookEndpoint]:
    """The organisation's endpoints that listen to `event`: one query."""
    with scopes_disabled():
        return [
            endpoint
            for endpoint in WebhookEndpoint.objects.filter(organization_id=organization_id)
            if event in endpoint.events
        ]


def emit(
    organization_id: int,
    event: str,
    payloads: Iterable[Mapping[str, Any]],
    endpoints: list[WebhookEndpoint] | None = None,
) -> int:
    """Writes one delivery per payload for each endpoint that listens to `event`.

    Called inside the transaction of the event: the rows commit or roll back with it.
    `endpoints`, when the caller read them already (`listeners`), saves that query.
    """
    if endpoints is None:
        endpoints = listeners(organization_id, event)
    if not endpoints:
        return 0
    now = timezone.now()
    rows = []
    for data in payloads:
        for endpoint in endpoints:
            delivery_id = uuid_module.uuid4()
            body = {"id": str(delivery_id), "event": event, "created_at": now.isoformat()}
            rows.append(
                WebhookDelivery(
                    organization_id=organization_id,
                    key=f"webhook:{delivery_id}",
                    uuid=delivery_id,
                    endpoint=endpoint,
                    event=event,
                    body=json.dumps({**body, "data": dict(data)}, sort_keys=True, default=str),
                    profile_uuid=data.get("profile"),
                    created_at=now,
                    next_attempt_at=now,
                )
            )
    with scopes_disabled():
        WebhookDelivery.objects.bulk_create(rows)
    transaction.on_commit(kick)
    return len(rows)


def kick() -> None:
    """Best effort: with the broker down, the periodic drain delivers all the same."""
    from api.tasks import deliver_webhooks

    try:
        deliver_webhooks.apply_async(
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        )
    except Exception:
        logger.warning(
            "Could not wake the webhook drain; the periodic sweep %s will deliver",
            SWEEP,
            exc_info=True,
        )


def deliver_due(now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Delivers due webhooks in batches until none is due or the time budget is spent.

    Crosses tenants by design: each claim is fair among the organisations waiting.
    """
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    started = time.monotonic()
    delivered = 0
    while time.monotonic() - started < settings.OUTBOX_DRAIN_SECONDS:
        moment = now or timezone.now()
        with scopes_disabled():
            claimed = claims.claim(WebhookDelivery, moment, batch_size)
            if not claimed:
                break
            for delivery in WebhookDelivery.objects.filter(pk__in=claimed).select_related(
                "endpoint"
            ):
                delivered += _attempt(delivery, moment)
    return delivered


def _attempt(delivery: WebhookDelivery, now: dt.datetime) -> int:
    """One POST; slow I/O outside any transaction, the claim's lease covering it."""
    body = delivery.body.encode()
    try:
        check_url(delivery.endpoint.url)
    except ValidationError as error:
        claims.mark_undeliverable(WebhookDelivery, delivery.pk, "; ".join(error.messages))
        return 0
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        delivery.endpoint.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Back office webhooks",
            "X-Delivery-Id": str(delivery.uuid),
            "X-Event": delivery.event,
            "X-Signature": signature(
                delivery.endpoint.secret, int(timezone.now().timestamp()), body
            ),
        },
    )
    code: int | None
    try:
        with _opener().open(request, timeout=TIMEOUT_SECONDS) as response:
            code = response.status
    except urllib.error.HTTPError as error:
        code = error.code
    except (OSError, ValueError) as error:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(response_code=None)
        claims.mark_retry(WebhookDelivery, [(delivery.pk, delivery.attempts)], str(error), now)
        logger.info("Webhook %s failed (%s); the sweep %s retries it", delivery.uuid, error, SWEEP)
        return 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(response_code=code)
    if 200 <= code < 300:
        claims.mark_sent(WebhookDelivery, delivery.pk)
        return 1
    claims.mark_retry(WebhookDelivery, [(delivery.pk, delivery.attempts)], f"HTTP {code}", now)
    logger.info("Webhook %s answered %s; the sweep %s retries it", delivery.uuid, code, SWEEP)
    return 0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect could lead to an address the check refused: it counts as an answer.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects)


def send_again(delivery: WebhookDelivery) -> None:
    """Queues the same delivery again: same id, same body, attempts counted afresh."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.QUEUED,
        attempts=0,
        next_attempt_at=timezone.now(),
        done_at=None,
        last_error="",
    )
    transaction.on_commit(kick)


def send_test(endpoint: WebhookEndpoint) -> WebhookDelivery:
    with scopes_disabled():
        [delivery] = WebhookDelivery.objects.bulk_create([_test_delivery(endpoint)])
    transaction.on_commit(kick)
    return delivery


def _test_delivery(endpoint: WebhookEndpoint) -> WebhookDelivery:
    now = timezone.now()
    delivery_id = uuid_module.uuid4()
    body = {
        "id": str(delivery_id),
        "event": TEST_EVENT,
        "created_at": now.isoformat(),
        "data": {"endpoint": str(endpoint.uuid)},
    }
    return WebhookDelivery(
        organization_id=endpoint.organization_id,
        key=f"webhook:{delivery_id}",
        uuid=delivery_id,
        endpoint=endpoint,
        event=TEST_EVENT,
        body=json.dumps(body, sort_keys=True),
        created_at=now,
        next_attempt_at=now,
    )
