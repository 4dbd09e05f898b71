from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "imports"
    verbose_name = _("Imports")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from imports import emails

        emails.register_kinds()

    def beat_schedule(self) -> dict[str, dict[str, object]]:
        return {
            "imports-purge-exports": {"task": "imports.tasks.purge_exports", "schedule": 3600.0},
        }
