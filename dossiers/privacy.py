"""A person's dossiers, for the export and the erasure of their profile (profiles.privacy)."""

from __future__ import annotations

from typing import Any

from dossiers.models import AccessToken, Dossier, DossierItem, DossierRecord, ItemRejection
from dossiers.signals import requests_changed
from profiles.models import Profile
from profiles.privacy import rows


def records(profile: Profile) -> dict[str, Any]:
    dossiers = []
    for dossier in Dossier.objects.filter(profile=profile).order_by("created_at", "id"):
        items = [
            {
                "field": item.field.label,
                "asked": item.initial_value,
                "answer": item.answer if item.answered else None,
                "upload": item.upload_name or None,
            }
            for item in DossierItem.objects.filter(dossier=dossier)
            .select_related("field")
            .order_by("position", "id")
        ]
        dossiers.append(
            {
                "uuid": str(dossier.uuid),
                "kind": dossier.kind,
                "title": dossier.title,
                "status": dossier.status,
                "created_at": dossier.created_at.isoformat(),
                "expires_at": dossier.expires_at.isoformat(),
                "submitted_at": dossier.submitted_at.isoformat() if dossier.submitted_at else None,
                "items": items,
            }
        )
    purged = rows(
        DossierRecord.objects.filter(profile=profile).order_by("created_at", "id"),
        ["dossier_uuid", "kind", "title", "recipients", "fields", "outcome", "created_at"],
    )
    for row in purged:
        row["dossier_uuid"] = str(row["dossier_uuid"])
    links = AccessToken.objects.filter(recipient=profile).count()
    return {"dossiers": dossiers, "purged_dossiers": purged, "links": links}


def files(profile: Profile) -> list[tuple[str, str]]:
    return [
        (f"dossier-uploads/{uuid}-{name}", key)
        for uuid, name, key in DossierItem.objects.filter(dossier__profile=profile)
        .exclude(upload="")
        .values_list("dossier__uuid", "upload_name", "upload")
    ] + [
        # Answers sent back keep their files until the dossier goes.
        (f"dossier-uploads/sent-back/{uuid}-{pk}-{name}", key)
        for uuid, pk, name, key in ItemRejection.objects.filter(item__dossier__profile=profile)
        .exclude(upload="")
        .values_list("item__dossier__uuid", "pk", "upload_name", "upload")
    ]


def erase(profile: Profile) -> None:
    AccessToken.objects.filter(recipient=profile).delete()
    Dossier.objects.filter(profile=profile).delete()
    requests_changed.send(
        sender=Dossier, organization_id=profile.organization_id, profile_ids=[profile.pk]
    )
    # The record of a purged dossier names its recipients: it goes too.
    DossierRecord.objects.filter(profile=profile).delete()
