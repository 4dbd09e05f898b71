"""The audit actions of the API app (see organizations.audit)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from organizations.audit import action

KEY_CREATED = action("api.key.created", _("API key created"))
KEY_REVOKED = action("api.key.revoked", _("API key revoked"))
WEBHOOK_CREATED = action("api.webhook.created", _("Webhook endpoint added"))
WEBHOOK_DELETED = action("api.webhook.deleted", _("Webhook endpoint removed"))
