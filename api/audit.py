"""The audit actions of the API app (see organizations.audit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from organizations.audit import action, on_the_server, relabel


def _key_created(details: Mapping[str, Any]) -> str:
    said = gettext("%(access)s; the key starts with %(prefix)s") % {
        "access": relabel(details.get("access")),
        "prefix": details["prefix"],
    }
    server = on_the_server(details)
    return f"{said}. {server}" if server else said


def _key_revoked(details: Mapping[str, Any]) -> str:
    return gettext("The key started with %(prefix)s") % {"prefix": details["prefix"]}


KEY_CREATED = action("api.key.created", _("API key created"), _key_created)
KEY_REVOKED = action("api.key.revoked", _("API key revoked"), _key_revoked)
WEBHOOK_CREATED = action(
    "api.webhook.created", _("Webhook endpoint added"), _("Events: %(events)s")
)
WEBHOOK_DELETED = action("api.webhook.deleted", _("Webhook endpoint removed"))
DELIVERIES_PURGED = action(
    "api.webhook.deliveries_purged",
    _("Webhook deliveries deleted after their retention"),
    _("%(deliveries)s deliveries older than %(days)s days"),
)
WEBHOOK_TESTED = action("api.webhook.tested", _("Webhook test event sent"))
WEBHOOK_RESENT = action(
    "api.webhook.resent", _("Webhook delivery sent again"), _("Event: %(event)s")
)
