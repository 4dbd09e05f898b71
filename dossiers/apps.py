from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DossiersConfig(AppConfig):
    name = "dossiers"
    verbose_name = _("Dossiers")

    def ready(self) -> None:
        from dossiers.profile_notes import requested_updates
        from profiles.signals import value_notes

        value_notes.connect(requested_updates, dispatch_uid="dossiers.requested_updates")

    def seed_demo(self, organization: object) -> None:
        from dossiers.demo import seed

        seed(organization)
