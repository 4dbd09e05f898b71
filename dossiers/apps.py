from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DossiersConfig(AppConfig):
    name = "dossiers"
    verbose_name = _("Dossiers")

    def ready(self) -> None:
        from dossiers import revocation  # noqa: F401  (revokes the links of a former recipient)

    def seed_demo(self, organization: object) -> None:
        from dossiers.demo import seed

        seed(organization)

    def field_in_use(self, field: object) -> bool:
        """A dossier asking for the field holds values of its type (asked or answered)."""
        from dossiers.models import DossierItem

        return DossierItem.objects.filter(field=field).exists()
