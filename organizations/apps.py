from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrganizationsConfig(AppConfig):
    name = "organizations"
    verbose_name = _("Organisations")

    def ready(self) -> None:
        from organizations import (
            checks,  # noqa: F401  (registers the system checks)
            members,
        )

        members.register_kinds()
