"""What an e-mail service reports about a message it took: delivered, bounced, complained.

An event names the message by the id the service gave it when it was sent (`provider_id`).
A hard bounce, a complaint, or a refusal for a bad or suppressed address makes the message
undeliverable and the address failing in the message's organisation; a soft bounce (the
service tries again by itself) and a delivery are recorded and change nothing else. An event
for a message we do not know, or one received before (a replay, a retry of the service),
is logged and changes nothing.

Crosses tenants by design: the event names no organisation, the message does.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from outbox.models import DeliveryEvent, FailingAddress, Message

logger = logging.getLogger(__name__)

Kind = DeliveryEvent.Kind

# anymail's normalised event types (anymail.signals.EventType), as strings.
_DELIVERED, _BOUNCED, _DEFERRED, _COMPLAINED, _REJECTED = (
    "delivered",
    "bounced",
    "deferred",
    "complained",
    "rejected",
)


def _text(value: Any, limit: int = 500) -> str:
    return "" if value is None else str(value)[:limit]


def _esp_event(event: Any) -> dict[str, Any]:
    raw = getattr(event, "esp_event", None)
    return raw if isinstance(raw, dict) else {}


def _soft(event: Any) -> bool:
    """A bounce the service will retry by itself, as each service says it: anymail calls them
    all "bounced" for some services."""
    raw = _esp_event(event)
    description = _text(getattr(event, "description", ""))
    if description.startswith(("Transient", "Undetermined")):  # Amazon SES's bounceType
        return True
    if raw.get("Type") in {"SoftBounce", "Transient", "DnsError"}:  # Postmark
        return True
    if raw.get("event") == "soft_bounce":  # Brevo
        return True
    # SendGrid: a "bounce" of type "blocked" is a refusal of the moment, not of the address.
    return raw.get("event") == "bounce" and raw.get("type") == "blocked"


def classify(event: Any) -> str | None:
    """The kind of `DeliveryEvent` an anymail tracking event makes, or None for one we do not
    record (queued, opened, clicked, unknown…)."""
    event_type = getattr(event, "event_type", None)
    reason = getattr(event, "reject_reason", None)
    if event_type == _DELIVERED:
        return Kind.DELIVERED
    if event_type == _DEFERRED:
        return Kind.SOFT_BOUNCE
    if event_type == _BOUNCED:
        return Kind.SOFT_BOUNCE if _soft(event) else Kind.HARD_BOUNCE
    if event_type == _COMPLAINED:
        return Kind.COMPLAINT
    if event_type == _REJECTED:
        # Refused because the address bounced or complained before (the service's own
        # suppression list), or is invalid: the address fails as it would have.
        if reason == "spam":
            return Kind.COMPLAINT
        if reason in {"bounced", "invalid"}:
            return Kind.HARD_BOUNCE
        return Kind.REJECTED
    return None


def event_key(service: str, event: Any, kind: str) -> str:
    """The service's id of the event, or where it gives none (a Postmark delivery) a digest
    of what identifies it, so that the same event received twice has the same key."""
    event_id = _text(getattr(event, "event_id", None), 150)
    if event_id:
        return f"{service}:{event_id}"
    parts = (
        getattr(event, "message_id", ""),
        kind,
        getattr(event, "recipient", ""),
        getattr(event, "timestamp", ""),
    )
    digest = hashlib.sha256("|".join(_text(part) for part in parts).encode()).hexdigest()
    return f"{service}:~{digest}"


def record(service: str, event: Any) -> str:
    """Applies one anymail tracking event; says what came of it (for the log and the tests):
    "ignored", "unknown", "replay" or the kind recorded."""
    kind = classify(event)
    if kind is None:
        return "ignored"
    message_id = _text(getattr(event, "message_id", None), 255)
    with scopes_disabled():
        message = (
            Message.objects.filter(provider_id=message_id).select_related("organization").first()
            if message_id
            else None
        )
        if message is None:
            logger.info("%s event %s for an unknown message %r: ignored", service, kind, message_id)
            return "unknown"
        key = event_key(service, event, kind)
        try:
            # A savepoint: a replay's conflict leaves the rest of the request's work intact.
            with transaction.atomic():
                DeliveryEvent.objects.create(
                    organization_id=message.organization_id,
                    message=message,
                    key=key[:200],
                    service=service,
                    kind=kind,
                    description=_describe(event),
                    occurred_at=_moment(event),
                )
        except IntegrityError:
            logger.info("%s event %s already received: ignored", service, key)
            return "replay"
        if kind in {Kind.HARD_BOUNCE, Kind.COMPLAINT, Kind.REJECTED}:
            _undeliverable(message, kind, _describe(event))
    logger.info("%s event %s for message %s recorded", service, kind, message.pk)
    return kind


def _describe(event: Any) -> str:
    parts = [
        _text(getattr(event, "description", None)),
        _text(getattr(event, "mta_response", None)),
    ]
    return " — ".join(part for part in parts if part)[:500]


def _moment(event: Any) -> Any:
    moment = getattr(event, "timestamp", None)
    return moment if moment is not None and timezone.is_aware(moment) else None


def _undeliverable(message: Message, kind: str, description: str) -> None:
    """The message did not reach its reader; a hard bounce or a complaint also fails the
    address, for the message's organisation (a password reset has none)."""
    label = str(Kind(kind).label)
    Message.objects.filter(pk=message.pk).exclude(status=Message.Status.UNDELIVERABLE).update(
        status=Message.Status.UNDELIVERABLE,
        done_at=timezone.now(),
        last_error=f"{label}: {description}"[:500],
    )
    if kind == Kind.REJECTED or message.organization_id is None:
        return
    reason = (
        FailingAddress.Reason.COMPLAINED
        if kind == Kind.COMPLAINT
        else FailingAddress.Reason.BOUNCED
    )
    address = message.address.strip().lower()
    existing = FailingAddress.objects.filter(
        organization_id=message.organization_id, address=address
    ).first()
    if existing is None:
        try:
            with transaction.atomic():
                FailingAddress.objects.create(
                    organization_id=message.organization_id,
                    address=address,
                    reason=reason,
                    detail=description,
                    message=message,
                )
        except IntegrityError:
            logger.info("%s was marked failing at the same moment by another event", address)
    elif reason == FailingAddress.Reason.COMPLAINED and not existing.complained:
        # A complaint outweighs a bounce: only an explicit decision sends to it again.
        existing.reason, existing.detail, existing.message = reason, description, message
        existing.save(update_fields=["reason", "detail", "message"])
