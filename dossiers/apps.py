from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from organizations.models import Organization
    from profiles.models import DataField


class DossiersConfig(AppConfig):
    name = "dossiers"
    verbose_name = _("Dossiers")

    def ready(self) -> None:
        from dossiers import (
            messages,
            revocation,  # noqa: F401  (revokes the links of a former recipient)
        )
        from dossiers.profile_notes import any_requested_update, dossier_names, requested_updates
        from profiles import attention
        from profiles.signals import dossier_names as dossier_names_signal

        messages.register_kinds()
        from dossiers import versions

        versions.connect()
        versions.read_with_memberships()
        from dossiers.portal import count_refused_body, may_send_full_bodies
        from organizations.security import BODY_REFUSALS, FULL_BODY_GRANTS

        if may_send_full_bodies not in FULL_BODY_GRANTS:
            FULL_BODY_GRANTS.append(may_send_full_bodies)
        if count_refused_body not in BODY_REFUSALS:
            BODY_REFUSALS.append(count_refused_body)
        attention.register_notes(any_requested_update, requested_updates)
        from dossiers.foureyes import record_contact_change, record_contact_changes
        from profiles.signals import identities_imported, identity_changed

        identity_changed.connect(record_contact_change, dispatch_uid="dossiers.four_eyes")
        identities_imported.connect(
            record_contact_changes, dispatch_uid="dossiers.four_eyes_imported"
        )
        dossier_names_signal.connect(dossier_names, dispatch_uid="dossiers.dossier_names")

    def seed_demo(self, organization: Organization) -> None:
        from dossiers.demo import seed

        seed(organization)

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        from celery.schedules import crontab

        return {
            # Hourly: each rung of a reminder ladder goes out within the hour it is due.
            "dossiers-reminders": {
                "task": "dossiers.tasks.send_reminders",
                "schedule": crontab(minute=0),
            },
            # Hourly: each organisation's digest at 08:00 in its own time zone.
            "dossiers-digests": {
                "task": "dossiers.tasks.send_digests",
                "schedule": crontab(minute=5),
            },
            "dossiers-purge": {
                "task": "dossiers.tasks.purge_dossiers",
                "schedule": crontab(minute=15),
            },
        }

    def field_in_use(self, field: DataField) -> bool:
        """A dossier asking for the field holds values of its type (asked or answered)."""
        from dossiers.models import DossierItem

        return DossierItem.objects.filter(field=field).exists()

    def privacy_records(self, profile: Any) -> dict[str, Any]:
        from dossiers.privacy import records

        return records(profile)

    def privacy_files(self, profile: Any) -> list[tuple[str, str]]:
        from dossiers.privacy import files

        return files(profile)

    def privacy_erase(self, profile: Any) -> None:
        from dossiers.privacy import erase

        erase(profile)
