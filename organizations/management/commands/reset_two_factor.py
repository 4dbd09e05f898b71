from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from organizations import actions
from organizations.actors import Actor


class Command(BaseCommand):
    help = (
        "Removes a user's second factor, for someone who lost their phone; they set up a new "
        "one at their next log-in (an organisation that requires it sends them there)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user is named {options['username']!r}.")
        removed = actions.reset_two_factor(user, actor=Actor.command("reset_two_factor"))
        self.stdout.write(f"{user.get_username()}: {removed} device(s) removed.")
