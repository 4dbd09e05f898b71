from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Data monitoring")

    def ready(self) -> None:
        from monitoring.overview import needing_attention_sql
        from profiles import attention

        attention.register(needing_attention_sql)

    def seed_demo(self, organization: object) -> None:
        from monitoring.demo import seed

        seed(organization)
