"""Creates an organisation API key from the command line and prints it, the only time."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_scopes import scope

from api import actions
from api.models import ApiKey
from organizations.actors import Actor
from organizations.models import Organization


class Command(BaseCommand):
    help = "Creates an API key for an organisation and prints it (it is stored as a hash)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organization", help="the organisation's short name (slug)")
        parser.add_argument("name", help="what the key is for; history and audit show it")
        parser.add_argument("--access", choices=ApiKey.Access.values, default=ApiKey.Access.READ)

    def handle(self, *args: Any, **options: Any) -> None:
        organization = Organization.objects.filter(slug=options["organization"]).first()
        if organization is None:
            raise CommandError(f"No organisation {options['organization']!r}.")
        with scope(organization=organization):
            try:
                issued = actions.create_api_key(
                    organization,
                    actor=Actor.command("create_api_key"),
                    name=options["name"],
                    access=options["access"],
                )
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(issued.key)
