from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProfilesConfig(AppConfig):
    name = "profiles"
    verbose_name = _("Profiles")

    def seed_demo(self, organization: object) -> None:
        from profiles.demo import seed

        seed(organization)

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        return {
            "profiles-pending-deletions": {
                "task": "profiles.tasks.delete_pending_files",
                "schedule": 900.0,
            },
        }
