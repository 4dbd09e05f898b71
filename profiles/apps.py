from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from organizations.models import Organization


class ProfilesConfig(AppConfig):
    name = "profiles"
    verbose_name = _("Profiles")

    def seed_demo(self, organization: Organization) -> None:
        from profiles.demo import seed

        seed(organization)

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        return {
            "profiles-pending-deletions": {
                "task": "profiles.tasks.delete_pending_files",
                "schedule": 900.0,
            },
        }

    def privacy_records(self, profile: Any) -> dict[str, Any]:
        from profiles.privacy import records

        return records(profile)

    def privacy_files(self, profile: Any) -> list[tuple[str, str]]:
        from profiles.privacy import files

        return files(profile)

    def privacy_erase(self, profile: Any) -> None:
        from profiles.privacy import erase

        erase(profile)
