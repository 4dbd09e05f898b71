from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = _("Organisations")

    def ready(self) -> None:
        from organizations import accounts, audit, checks, members  # noqa: F401  (signals, tasks, checks)

        # Every app's audit.py declares its actions; the log page lists them all.
        audit.discover()
        members.register_kinds()
        accounts.register_kinds()
        # The e-mail service's batches of events may be larger than an anonymous post.
        from organizations.security import FULL_BODY_GRANTS
        from outbox.webhooks import is_event_post

        if is_event_post not in FULL_BODY_GRANTS:
            FULL_BODY_GRANTS.append(is_event_post)

    def privacy_records(self, profile: Any) -> dict[str, Any]:
        from organizations.privacy import records

        return records(profile)

    def privacy_erase(self, profile: Any) -> None:
        from organizations.privacy import erase

        erase(profile)
