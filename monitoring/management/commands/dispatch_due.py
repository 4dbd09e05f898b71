from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_scopes import scope, scopes_disabled

from monitoring import actions, rolling, triggers
from monitoring.dispatch import dispatch_due, open_run
from monitoring.models import UpdateGroup, UpdateRun
from organizations.actors import Actor


class Command(BaseCommand):
    help = (
        "Runs one dispatcher pass in the foreground: records the runs of due update groups "
        "and opens their dossiers here, without a worker, with the triggered requests waiting."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--group",
            type=uuid.UUID,
            help="Send this group's current period now, whether or not it is due.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["group"]:
            with scopes_disabled():
                group = (
                    UpdateGroup.objects.filter(uuid=options["group"])
                    .select_related("organization")
                    .first()
                )
            if group is None:
                raise CommandError(f"No update group {options['group']}.")
            with scope(organization=group.organization):
                run = actions.send_now(group, actor=Actor.system("dispatch_due"), fan_out=False)
            if run is None and group.cadence != "calendar":
                raise CommandError(f"“{group.title}” asks each profile on its own day.")
            if run is None:
                raise CommandError(f"“{group.title}” is paused: resume it first.")
            run_ids = [run.pk]
        else:
            # Calendar groups, then the profiles of rolling and tiered groups due now.
            run_ids = dispatch_due(fan_out=False) + rolling.dispatch_due(fan_out=False)
            # The triggered requests of the same pass, as the worker's pass serves them.
            triggered = triggers.dispatch_triggered()
            if triggered:
                self.stdout.write(f"{triggered} triggered request(s) open.")
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
