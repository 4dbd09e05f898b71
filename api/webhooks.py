"""Webhooks: the organisation's events, delivered to its endpoints through the outbox.

A delivery is a row written in the transaction of the event (outbox.models.Delivery), drained
by claim → POST → mark, retried with the outbox's backoff (a minute, doubling up to six
hours, twelve attempts: about a day), then marked undeliverable. Its body is JSON and never
changes between attempts; it carries the delivery's id so that a receiver can ignore a
repeat. `X-Signature` is `t=<unix time>,v1=<hex HMAC-SHA256 of "<unix time>." + body under
the endpoint's secret>`: the time lets a receiver refuse an old replay.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import logging
import socket
import time
import uuid as uuid_module
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_scopes import scopes_disabled

from api.models import WebhookDelivery, WebhookEndpoint
from organizations.netaddr import is_public
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


@dataclasses.dataclass(frozen=True)
class Target:
    """Where a delivery goes: the address checked, and the name the receiver expects.

    The connection is made to `address` and nowhere else; `hostname` travels in the Host
    header and as the TLS server name, and the certificate must be valid for it.
    """

    scheme: str
    hostname: str
    port: int
    path: str
    address: str

    @property
    def host_header(self) -> str:
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def check_url(url: str) -> None:
    """Only http(s); in production, never an address of a private or local network.

    Checked when the endpoint is saved, and again at each delivery by `resolve`, whose
    answer the delivery connects to.
    """
    _split(url)
    if not settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES:
        resolve(url)


def resolve(url: str) -> Target:
    """Resolves the name once and checks every address it gives.

    A name may answer differently on each resolution (DNS rebinding): whatever connects
    afterwards must use the address returned here, never resolve the name again.
    """
    scheme, hostname, port, path = _split(url)
    try:
        found = [
            str(info[4][0]).split("%")[0]
            for info in socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
        ]
    except (OSError, UnicodeError, ValueError):
        raise ValidationError(_("This address does not resolve."), code="resolve") from None
    if not found:
        raise ValidationError(_("This address does not resolve."), code="resolve")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES and not all(map(_is_public, found)):
        raise ValidationError(
            _("This address is on a private or local network: it cannot receive webhooks."),
            code="private",
        )
    return Target(scheme=scheme, hostname=hostname, port=port, path=path, address=found[0])


def _split(url: str) -> tuple[str, str, int, str]:
    invalid = ValidationError(_("Enter an http:// or https:// address."), code="scheme")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        hostname = (parts.hostname or "").encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        raise invalid from None
    if parts.scheme not in {"http", "https"} or not hostname:
        raise invalid
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, hostname, port, path


# One rule for every address the server connects to on someone's word.
_is_public = is_public


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
        target = resolve(delivery.endpoint.url)
    except ValidationError as error:
        claims.mark_undeliverable(WebhookDelivery, delivery.pk, "; ".join(error.messages))
        return 0
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Back office webhooks",
        "X-Delivery-Id": str(delivery.uuid),
        "X-Event": delivery.event,
        "X-Signature": signature(delivery.endpoint.secret, int(timezone.now().timestamp()), body),
    }
    try:
        code = post(target, body, headers)
    except (OSError, urllib3.exceptions.HTTPError) as error:
        # The receiver's own words never reach the page: only what kind of failure it was.
        reason = _failure(error)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(response_code=None)
        claims.mark_retry(WebhookDelivery, [(delivery.pk, delivery.attempts)], reason, now)
        logger.info("Webhook %s failed (%s); the sweep %s retries it", delivery.uuid, reason, SWEEP)
        return 0
    WebhookDelivery.objects.filter(pk=delivery.pk).update(response_code=code)
    if 200 <= code < 300:
        claims.mark_sent(WebhookDelivery, delivery.pk)
        return 1
    claims.mark_retry(WebhookDelivery, [(delivery.pk, delivery.attempts)], f"HTTP {code}", now)
    logger.info("Webhook %s answered %s; the sweep %s retries it", delivery.uuid, code, SWEEP)
    return 0


def post(target: Target, body: bytes, headers: Mapping[str, str]) -> int:
    """POSTs to the checked address, never following a redirect, and reads no answer body.

    A redirect could lead to an address the check refused: it counts as an answer.
    """
    pool: urllib3.HTTPConnectionPool
    timeout = urllib3.Timeout(connect=TIMEOUT_SECONDS, read=TIMEOUT_SECONDS)
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            server_hostname=target.hostname,
            assert_hostname=target.hostname,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False
        )
    with pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        response.release_conn()
        return response.status


def _failure(error: Exception) -> str:
    # NewConnectionError is a kind of ConnectTimeoutError in urllib3 2: it comes first.
    if isinstance(error, (ConnectionError, urllib3.exceptions.NewConnectionError)):
        return "Could not connect"
    if isinstance(error, (TimeoutError, urllib3.exceptions.TimeoutError)):
        return "Timed out"
    if isinstance(error, urllib3.exceptions.SSLError):
        return "TLS handshake or certificate refused"
    return "No valid HTTP answer"


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
