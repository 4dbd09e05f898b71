from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django_scopes import scope

from organizations.demo import DEMO_ADMIN, DEMO_PASSWORD, seed_organizations


class Command(BaseCommand):
    help = "Creates (or completes) the demo organisation. Safe to run again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG off: creates accounts whose password is public.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not options["allow_production"]:
            raise CommandError(
                "DEBUG is off: this looks like production, and the demo creates accounts whose "
                "password is printed in the README. Pass --allow-production to seed anyway "
                "(a demo or staging machine), and remove the accounts before real use."
            )
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
