from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DossiersConfig(AppConfig):
    name = "dossiers"
    verbose_name = _("Dossiers")

    def ready(self) -> None:
        from dossiers import messages

        messages.register_kinds()

    def seed_demo(self, organization: object) -> None:
        from dossiers.demo import seed

        seed(organization)

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        from celery.schedules import crontab

        return {
            "dossiers-reminders": {
                "task": "dossiers.tasks.send_reminders",
                "schedule": crontab(minute=0, hour=9),
            },
            "dossiers-purge": {
                "task": "dossiers.tasks.purge_dossiers",
                "schedule": crontab(minute=15),
            },
        }
