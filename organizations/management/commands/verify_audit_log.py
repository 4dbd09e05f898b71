"""Says whether each organisation's audit log is intact, and where it breaks."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_scopes import scopes_disabled

from organizations import integrity
from organizations.models import Organization
from organizations.tenancy import each_in_scope


class Command(BaseCommand):
    help = (
        "Verifies the hash chain of the audit log of every organisation (or of those named): "
        "exits with status 1 and names each entry changed, moved or missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("organizations", nargs="*", help="short names (slugs); all if none")

    def handle(self, *args: Any, **options: Any) -> None:
        slugs = options["organizations"]
        # Crosses tenants: each organisation is then verified inside its own scope.
        with scopes_disabled():
            chosen = Organization.objects.order_by("slug")
            if slugs:
                chosen = chosen.filter(slug__in=slugs)
            found = list(chosen)
        unknown = set(slugs) - {organization.slug for organization in found}
        if unknown:
            raise CommandError(f"No organisation {', '.join(sorted(unknown))}.")
        broken = 0
        for organization in each_in_scope(found, lambda organization: organization):
            report = integrity.verify(organization)
            if report.intact:
                self.stdout.write(f"{organization.slug}: intact, {report.entries} entries.")
                continue
            broken += 1
            self.stdout.write(
                f"{organization.slug}: BROKEN, {report.count} problem(s) in "
                f"{report.entries} entries."
            )
            for problem in report.problems:
                where = f"position {problem.seq}" if problem.seq else f"entry id {problem.entry_id}"
                self.stdout.write(f"  {where}: {problem.reason}")
        if broken:
            raise CommandError(f"{broken} organisation(s) with a broken audit log.", returncode=1)
