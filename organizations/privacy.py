"""Audit entries about a person, for the export and the erasure of their profile.

Entries are found by reference — the person as a subject of the entry (organizations.models.
AuditSubject, recorded by the actions) or as the client who acted — never by their text: a
name matches other people's entries, and an entry that spells the person inside a longer
text ("Proof of address — Gina Gdpr") is found all the same.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from organizations.actors import Actor
from organizations.models import AuditEntry, AuditSubject


def entries_about(person: Any) -> QuerySet[AuditEntry]:
    """The entries that concern the person, or that they made as a client."""
    organization_id = person.organization_id
    ref = str(person.uuid)
    subjects = (
        AuditSubject.objects.filter(
            organization_id=organization_id, kind=AuditSubject.Kind.PROFILE, ref=ref
        )
        .values("entry_id")
        .order_by()  # no order: a part of a UNION takes none
    )
    acted = (
        AuditEntry.objects.filter(
            organization_id=organization_id, actor=AuditEntry.Actor.CLIENT, actor_ref=ref
        )
        .values("pk")
        .order_by()
    )
    # One set of ids from both indexes (subjects' organization/kind/ref, the entries'
    # actor_ref): an OR of `pk IN (subjects)` with the actor's columns is a filter no index
    # answers, and PostgreSQL read the organisation's every entry to apply it.
    return AuditEntry.objects.filter(organization_id=organization_id).filter(
        pk__in=subjects.union(acted)
    )


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
    # The entries stay (who did what, when), their personal part blanked; the chain keeps
    # verifying, and a redaction record names the positions blanked.
    from organizations.actions import redact_entries

    redact_entries(
        person.organization, entries=entries_about(person), actor=Actor.system("erasure")
    )
