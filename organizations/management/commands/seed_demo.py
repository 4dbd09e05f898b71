from __future__ import annotations

from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django_scopes import scope

from organizations.demo import DEMO_ADMIN, DEMO_PASSWORD, seed_organizations


class Command(BaseCommand):
    help = "Creates (or completes) the demo organisation. Safe to run again."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            organization = seed_organizations()
            # Each app adds its part through AppConfig.seed_demo(organization), in the order
            # of INSTALLED_APPS, so this command imports no app to the right of its own.
            with scope(organization=organization):
                for config in apps.get_app_configs():
                    seed = getattr(config, "seed_demo", None)
                    if seed is not None:
                        seed(organization)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo organisation '{organization.name}' is ready at /o/{organization.slug}/ - "
                f"log in as {DEMO_ADMIN} / {DEMO_PASSWORD}"
            )
        )
