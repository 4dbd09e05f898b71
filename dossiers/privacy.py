"""A person's dossiers, for the export and the erasure of their profile (profiles.privacy)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from dossiers import daily
from dossiers.messages import delete_messages
from dossiers.models import (
    AccessToken,
    Dossier,
    DossierItem,
    DossierMessage,
    DossierRecord,
    Intervention,
    ItemRejection,
    recipient_label,
)
from dossiers.signals import requests_changed
from profiles.models import FieldValueHistory, Profile


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
    # The person's own records, and those of the dossiers they were asked to answer (a
    # company's, as its representative).
    purged = [
        {
            "dossier_uuid": str(record.dossier_uuid),
            "kind": record.kind,
            "title": record.title,
            "recipients": record.recipients_shown,
            "fields": record.fields,
            "outcome": record.outcome,
            "created_at": record.created_at.isoformat(),
        }
        for record in DossierRecord.objects.filter(
            Q(profile=profile) | Q(recipient_profiles=profile)
        )
        .distinct()
        .prefetch_related("recipient_profiles")
        .order_by("created_at", "id")
    ]
    links = AccessToken.objects.filter(recipient=profile).count()
    return {
        "dossiers": dossiers,
        "purged_dossiers": purged,
        "links": links,
        "messages": _messages(profile),
        "interventions": _interventions(profile),
    }


def _messages(profile: Profile) -> list[dict[str, Any]]:
    """The e-mails sent to the person about a dossier, or about their own dossiers to
    someone else (a company's, to its representative): what was sent, when, where, and
    what the e-mail service said of it. Bodies are rendered when sent and never kept."""
    links = (
        DossierMessage.objects.filter(Q(profile=profile) | Q(dossier__profile=profile))
        .select_related("message", "dossier")
        .prefetch_related("message__events")
        .order_by("message__created_at", "message_id")
    )
    return [
        {
            "kind": link.message.kind,
            "address": link.message.address,
            "dossier_uuid": str(link.dossier.uuid),
            "to_this_person": link.profile_id == profile.pk,
            "status": link.message.status,
            "created_at": link.message.created_at.isoformat(),
            "done_at": link.message.done_at.isoformat() if link.message.done_at else None,
            "events": [
                {
                    "event": event.kind,
                    "at": (event.occurred_at or event.received_at).isoformat(),
                    "description": event.description,
                }
                for event in sorted(link.message.events.all(), key=lambda e: (e.received_at, e.pk))
            ],
        }
        for link in links
    ]


def _interventions(profile: Profile) -> list[dict[str, Any]]:
    """What members did that decides who may approve the person's answers (a link sent, an
    address changed): the act and its time, not the member, whose own data it is."""
    return [
        {
            "kind": row.kind,
            "at": row.at.isoformat(),
            "dossier_uuid": str(row.dossier.uuid) if row.dossier else None,
            "address": row.email or None,
        }
        for row in Intervention.objects.filter(Q(person=profile) | Q(dossier__profile=profile))
        .select_related("dossier")
        .order_by("at", "id")
    ]


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
    # The messages to the person or about their dossiers, which hold their address.
    delete_messages(Q(dossier__profile=profile) | Q(profile=profile))
    daily.delete_messages(Q(recipient=profile))
    AccessToken.objects.filter(recipient=profile).delete()
    # The address a representative's answers came through, on their company's dossiers.
    DossierItem.objects.filter(answered_by=profile).update(answered_via="")
    Dossier.objects.filter(submitted_by=profile).update(submitted_via="")
    FieldValueHistory.objects.filter(recipient=profile).update(via="")
    Intervention.objects.filter(person=profile).delete()
    Dossier.objects.filter(profile=profile).delete()
    requests_changed.send(
        sender=Dossier, organization_id=profile.organization_id, profile_ids=[profile.pk]
    )
    # The record of a purged dossier names its recipients: it goes too. The person leaves
    # the records of others' dossiers (a company's) as the profile's deletion unlinks them;
    # a record written before the references loses its exact mention of them.
    DossierRecord.objects.filter(profile=profile).delete()
    if profile.company_id is not None:
        mention = recipient_label(profile.first_name, profile.last_name, profile.email)
        for record in DossierRecord.objects.filter(
            profile_id=profile.company_id, recipients__contains=mention
        ):
            kept = [name for name in record.recipients.split(", ") if name != mention]
            if len(kept) != len(record.recipients.split(", ")):
                DossierRecord.objects.filter(pk=record.pk).update(recipients=", ".join(kept))
