from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_scopes import scopes_disabled

from dossiers.retention import expire_dossiers, purge_dossiers


class Command(BaseCommand):
    help = "Deletes update dossiers a month after their creation, keeping an audit record."

    def handle(self, *args: Any, **options: Any) -> None:
        with scopes_disabled():
            expired = expire_dossiers()
            purged = purge_dossiers()
        self.stdout.write(f"{expired} dossier(s) expired, {purged} purged.")
