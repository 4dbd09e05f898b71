"""Audit entries about a person, for the export and the erasure of their profile."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from organizations.models import AuditEntry


def entries_about(person: Any) -> QuerySet[AuditEntry]:
    """Entries naming the person: by name or e-mail as their object, or by UUID or e-mail in
    their details (a profile is shown by name; links and downloads carry its UUID), and
    those the person made as a client."""
    names = {value for value in (person.display_name, person.email) if value}
    about = (
        Q(target__in=names)
        | Q(details__icontains=str(person.uuid))
        | Q(actor=AuditEntry.Actor.CLIENT, actor_ref=str(person.uuid))
    )
    for value in names:
        about |= Q(details__icontains=value)
    return AuditEntry.objects.filter(organization_id=person.organization_id).filter(about)


def records(person: Any) -> dict[str, Any]:
    return {
        "audit_entries": [
            {
                "at": entry.at.isoformat(),
                "action": entry.action,
                "object": entry.target,
                "details": entry.details,
            }
            for entry in entries_about(person).order_by("at", "id")
        ]
    }


def erase(person: Any) -> None:
    # The entries stay (who did what, when); what named the person goes, as actor too.
    entries = entries_about(person)
    entries.filter(actor=AuditEntry.Actor.CLIENT, actor_ref=str(person.uuid)).update(
        actor_name="", actor_ref=""
    )
    entries.update(target="—", details={})
