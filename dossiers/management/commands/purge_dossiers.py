from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_scopes import scopes_disabled

from dossiers import actions
from organizations.actors import Actor


class Command(BaseCommand):
    help = "Deletes update dossiers a month after their creation, keeping an audit record."

    def handle(self, *args: Any, **options: Any) -> None:
        with scopes_disabled():
            done = actions.purge(actor=Actor.system("purge_dossiers"))
        self.stdout.write(f"{done.expired} dossier(s) expired, {done.purged} purged.")
