from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from profiles.storage import delete_pending


class Command(BaseCommand):
    help = "Deletes the files recorded for deletion that storage refused earlier."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{delete_pending()} file(s) deleted.")
