from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from outbox.mail import send_due


class Command(BaseCommand):
    help = "Sends the e-mails due in the outbox, in the foreground (for cron-only installs)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{send_due()} e-mail(s) sent.")
