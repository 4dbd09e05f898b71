"""Links the audit entries written before subjects existed to the people and dossiers they
concern, where that can be known exactly, then seals every organisation's log in order.

Exact means by identifier or by whole-text equality with one and only one candidate:
- the client who acted (their UUID was kept);
- a detail holding exactly a profile's, a dossier's (or a purged dossier's record's) or a
  document's UUID;
- an object (target) that is exactly the display name of one profile of the organisation,
  or that name followed by " — " and one of the organisation's field labels;
- an account's own event (log-in, password, second factor): its member.
A name shared by two profiles links nothing: an erasure must never reach the wrong person.
Entries left unlinked are those no exact rule reaches; they are sealed as they are.

Lives in dossiers, the rightmost app whose rows it reads; it writes only organizations'.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.db import migrations

from organizations import auditchain

PROFILE_ACTIONS = {
    "profiles.profile.created",
    "profiles.profile.updated",
    "profiles.profile.archived",
    "profiles.profile.restored",
    "profiles.profile.exported",
    "profiles.value.restored",
    "monitoring.expiry.set",
    "monitoring.expiry.cleared",
    "dossiers.links.revoked",
}
ACCOUNT_ACTIONS = {
    "organizations.auth.login",
    "organizations.auth.login_failed",
    "organizations.auth.password_reset",
    "organizations.auth.password_changed",
    "organizations.auth.two_factor_enabled",
    "organizations.auth.two_factor_disabled",
}


def _subjects_of(
    entry: Any,
    profiles: dict[str, str],
    dossiers: dict[str, str | None],
    documents: dict[str, str],
    by_name: dict[str, str | None],
) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    if entry.actor == "client" and entry.actor_ref in profiles:
        found.add(("profile", entry.actor_ref))
    values = entry.details.values() if isinstance(entry.details, dict) else ()
    for value in values:
        text = str(value)
        if text in profiles:
            found.add(("profile", text))
        if text in dossiers:
            found.add(("dossier", text))
            owner = dossiers[text]
            if owner is not None:
                found.add(("profile", owner))
        if text in documents:
            found.add(("profile", documents[text]))
    if entry.action in PROFILE_ACTIONS:
        target = entry.target
        owner = by_name.get(target)
        if owner is None and " — " in target:
            name, _sep, _label = target.rpartition(" — ")
            owner = by_name.get(name)
        if owner:
            found.add(("profile", owner))
    if entry.action in ACCOUNT_ACTIONS and entry.user_id is not None:
        found.add(("member", str(entry.user_id)))
    return found


def link_and_seal(apps: Any, schema_editor: Any) -> None:
    Organization = apps.get_model("organizations", "Organization")
    AuditEntry = apps.get_model("organizations", "AuditEntry")
    AuditSubject = apps.get_model("organizations", "AuditSubject")
    AuditChain = apps.get_model("organizations", "AuditChain")
    Profile = apps.get_model("profiles", "Profile")
    Document = apps.get_model("profiles", "Document")
    Dossier = apps.get_model("dossiers", "Dossier")
    DossierRecord = apps.get_model("dossiers", "DossierRecord")
    # Historical managers are plain: no scope is needed, and every organisation is visited.
    for organization in Organization.objects.order_by("pk"):
        profiles: dict[str, str] = {}
        by_name: dict[str, str | None] = {}
        for uuid, kind, first, last, email, name in Profile.objects.filter(
            organization=organization
        ).values_list("uuid", "kind", "first_name", "last_name", "email", "name"):
            ref = str(uuid)
            profiles[ref] = ref
            shown = name if kind == "company" else (f"{first} {last}".strip() or email)
            # A name two profiles share belongs to neither.
            by_name[shown] = None if shown in by_name else ref
        by_name.pop("", None)
        dossiers: dict[str, str | None] = {
            str(uuid): str(owner)
            for uuid, owner in Dossier.objects.filter(organization=organization).values_list(
                "uuid", "profile__uuid"
            )
        }
        for uuid, owner in DossierRecord.objects.filter(organization=organization).values_list(
            "dossier_uuid", "profile__uuid"
        ):
            dossiers.setdefault(str(uuid), str(owner) if owner else None)
        documents = {
            str(uuid): str(owner)
            for uuid, owner in Document.objects.filter(
                profile__organization=organization
            ).values_list("uuid", "profile__uuid")
        }
        previous, seq = auditchain.GENESIS, 0
        last = None
        entries = AuditEntry.objects.filter(organization=organization, seq__isnull=True)
        for entry in entries.order_by("at", "id").iterator(chunk_size=1000):
            # The account, for good, on a member's entries (the chain hashes it).
            if entry.actor == "member" and entry.user_id is not None and not entry.actor_ref:
                entry.actor_ref = str(entry.user_id)
            subjects = _subjects_of(entry, profiles, dossiers, documents, by_name)
            AuditSubject.objects.bulk_create(
                [
                    AuditSubject(organization=organization, entry=entry, kind=kind, ref=ref)
                    for kind, ref in sorted(subjects)
                ]
            )
            seq += 1
            entry.seq = seq
            entry.salt = secrets.token_hex(16)
            entry.personal_digest = auditchain.personal_digest(
                entry, [auditchain.subject_key(kind, ref) for kind, ref in subjects]
            )
            entry.entry_hash = auditchain.entry_hash(entry, previous)
            entry.save(update_fields=["actor_ref", "seq", "salt", "personal_digest", "entry_hash"])
            previous, last = entry.entry_hash, entry
        if last is not None:
            AuditChain.objects.update_or_create(
                organization=organization, defaults={"seq": seq, "head": previous}
            )


class Migration(migrations.Migration):
    dependencies = [
        ("dossiers", "0013_secfix_link_addresses"),
        ("organizations", "0013_audit_chain"),
        ("profiles", "0008_profile_newest_first"),
    ]

    operations = [migrations.RunPython(link_and_seal, migrations.RunPython.noop)]
