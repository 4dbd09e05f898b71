"""The audit actions of update groups and expiry dates."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from organizations.audit import action

GROUP_CREATED = action("monitoring.group.created", _("Update group created"))
GROUP_UPDATED = action("monitoring.group.updated", _("Update group changed"))
GROUP_PAUSED = action("monitoring.group.paused", _("Update group paused"))
GROUP_RESUMED = action("monitoring.group.resumed", _("Update group resumed"))
GROUP_SENT_NOW = action("monitoring.group.sent_now", _("Update group sent now"))
GROUP_DELETED = action("monitoring.group.deleted", _("Update group deleted"))
EXPIRY_SET = action("monitoring.expiry.set", _("Expiry date set"))
EXPIRY_CLEARED = action("monitoring.expiry.cleared", _("Expiry date cleared"))
RUN_EXPORTED = action("monitoring.run.exported", _("Outstanding list exported"))
OVERVIEW_EXPORTED = action("monitoring.overview.exported", _("Compliance overview exported"))
RUN_REMINDED = action("monitoring.run.reminded", _("Outstanding clients of a run reminded"))
