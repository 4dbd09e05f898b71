from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_scopes import scopes_disabled

from monitoring.dispatch import dispatch_due, open_run
from monitoring.models import UpdateRun


class Command(BaseCommand):
    help = (
        "Runs one dispatcher pass in the foreground: records the runs of due update groups "
        "and opens their dossiers here, without a worker."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        run_ids = dispatch_due(fan_out=False)
        if not run_ids:
            self.stdout.write("No update group is due.")
            return
        for run_id in run_ids:
            opened = open_run(run_id)
            with scopes_disabled():
                run = UpdateRun.objects.select_related("group", "organization").get(pk=run_id)
            skipped = f", {run.skipped} missed period(s) folded in" if run.skipped else ""
            self.stdout.write(
                f"{run.organization.slug}: “{run.group.title}” for {run.period:%Y-%m-%d}: "
                f"{opened} dossier(s) open{skipped}."
            )
