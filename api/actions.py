"""The writes of the API app, one function per verb (DESIGN.md, "One action per verb"):
the organisation's keys and its webhook endpoints.

Settings > API, Settings > Webhooks and the `create_api_key` command parse their input and
call these; none of them records an audit entry itself.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django_scopes import scope

from api import audit as audit_actions
from api import retention, webhooks
from api.models import ApiKey, WebhookDelivery, WebhookEndpoint
from organizations.actors import Actor, ActorKind
from organizations.models import Organization

NAME_LENGTH = ApiKey._meta.get_field("name").max_length or 100


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    # The key in clear: known now, shown once, never stored.
    key: str


def create_api_key(
    organization: Organization, *, actor: Actor, name: str, access: str
) -> IssuedKey:
    """Issues a key of the organisation; the key in clear is in the result, the only time."""
    errors: dict[str, ValidationError] = {}
    name = name.strip()
    try:
        if not name:
            raise ValidationError(_("This field is required."), code="required")
        MaxLengthValidator(NAME_LENGTH)(name)
    except ValidationError as error:
        errors["name"] = error
    if access not in ApiKey.Access.values:
        errors["access"] = _invalid_choice(access)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        api_key, key = ApiKey.issue(
            organization, name=name, access=access, created_by=actor.member_user
        )
        actor.audit(
            organization,
            audit_actions.KEY_CREATED,
            api_key,
            access=api_key.get_access_display(),
            prefix=api_key.prefix,
        )
    return IssuedKey(api_key=api_key, key=key)


def _invalid_choice(value: str) -> ValidationError:
    # Django's own words, as the forms say them.
    return ValidationError(
        _("Select a valid choice. %(value)s is not one of the available choices."),
        code="invalid_choice",
        params={"value": value},
    )


def revoke_api_key(api_key: ApiKey, *, actor: Actor) -> bool:
    """Revokes the key: it no longer opens the API. False, and nothing recorded, if it was
    revoked already (by someone else, say)."""
    with transaction.atomic():
        revoked = api_key.revoke(actor.member_user)
        if revoked:
            actor.audit(
                api_key.organization, audit_actions.KEY_REVOKED, api_key, prefix=api_key.prefix
            )
    return revoked


def revoke_keys_of_removed_member(
    sender: Any, *, organization: Organization, user: Any, actor: Actor, **kwargs: Any
) -> None:
    """A key acts as the member who created it (dossiers.foureyes): it does not outlive
    their place in the organisation. Revoked in the removal's transaction, each audited as
    revoked by whoever removed them."""
    with scope(organization=organization):
        keys = ApiKey.objects.filter(organization=organization, created_by=user, revoked_at=None)
        for api_key in keys.select_related("organization"):
            revoke_api_key(api_key, actor=actor)


def create_endpoint(
    organization: Organization, *, actor: Actor, url: str, events: Sequence[str]
) -> WebhookEndpoint:
    """Adds an address that receives the organisation's `events`, signed with its own secret.
    Only http(s), and in production never an address of a private or local network."""
    errors: dict[str, ValidationError] = {}
    try:
        webhooks.check_url(url)
    except ValidationError as error:
        errors["url"] = error
    unknown = [event for event in events if event not in webhooks.EVENTS]
    if not events:
        errors["events"] = ValidationError(_("This field is required."), code="required")
    elif unknown:
        errors["events"] = _invalid_choice(unknown[0])
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            organization=organization,
            url=url,
            events=list(events),
            created_by=actor.member_user,
        )
        actor.audit(
            organization, audit_actions.WEBHOOK_CREATED, endpoint.url, events=", ".join(events)
        )
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint, *, actor: Actor) -> str:
    """Removes the endpoint and its deliveries: it receives nothing more. Returns its address,
    which the audit entry keeps."""
    url = endpoint.url
    with transaction.atomic():
        endpoint.delete()
        actor.audit(endpoint.organization, audit_actions.WEBHOOK_DELETED, url)
    return url


def send_test_event(endpoint: WebhookEndpoint, *, actor: Actor) -> WebhookDelivery:
    """Queues a test event to the endpoint; its delivery shows on the endpoint's page.
    Audited: it makes the server call an address, which someone chose to do."""
    with transaction.atomic():
        delivery = webhooks.send_test(endpoint)
        actor.audit(
            endpoint.organization,
            audit_actions.WEBHOOK_TESTED,
            endpoint.url,
            delivery=delivery.uuid,
        )
    return delivery


def resend_delivery(delivery: WebhookDelivery, *, actor: Actor) -> WebhookDelivery:
    """Queues the delivery again: same id, same body, attempts counted afresh. Audited: the
    body (personal values, perhaps) leaves again."""
    with transaction.atomic():
        webhooks.send_again(delivery)
        actor.audit(
            delivery.endpoint.organization,
            audit_actions.WEBHOOK_RESENT,
            delivery.endpoint.url,
            event=delivery.event,
            delivery=delivery.uuid,
        )
    return delivery


def purge_deliveries(*, actor: Actor, now: dt.datetime | None = None) -> int:
    """Deletes the webhook deliveries past their retention (api.retention), each batch's
    audit entries, one per organisation, written in its transaction; returns how many went.
    Crosses tenants: the caller runs it with scopes disabled."""
    if actor.kind != ActorKind.SYSTEM:
        raise ValueError(f"{actor.kind} cannot do this")
    organizations: dict[int, Organization] = {}

    def audit_batch(purged: Counter[int]) -> None:
        missing = [pk for pk in purged if pk not in organizations]
        organizations.update(Organization.objects.in_bulk(missing))
        for organization_id, count in sorted(purged.items()):
            organization = organizations[organization_id]
            with scope(organization=organization):
                actor.audit(
                    organization,
                    audit_actions.DELIVERIES_PURGED,
                    organization,
                    deliveries=count,
                    days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS,
                )

    return retention.purge_deliveries(now, on_batch=audit_batch)
