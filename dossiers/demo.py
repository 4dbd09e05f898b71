"""A few dossiers in every status for the demo organisation."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from dossiers import versions
from dossiers.models import Dossier, DossierItem
from dossiers.opening import open_dossiers
from dossiers.submission import save_draft, submit
from organizations.models import Organization
from profiles.models import DataField, Kind, Profile


def seed(organization: Organization) -> None:
    if Dossier.objects.filter(organization=organization).exists():
        return
    fields = list(
        DataField.objects.filter(
            organization=organization,
            applies_to=Kind.CONTACT,
            label__in=["Job title", "Mobile phone", "Proof of address"],
        )
    )
    contacts = list(
        Profile.objects.filter(organization=organization, kind=Kind.CONTACT).order_by("id")[:4]
    )
    if len(contacts) < 4 or not fields:
        return
    ids = [
        open_dossiers(
            organization,
            [contact.pk],
            fields,
            kind=Dossier.Kind.CLASSIC,
            title="Annual information review",
            expires_at=timezone.now() + dt.timedelta(days=30),
        )[0]
        for contact in contacts
    ]
    in_progress, submitted, expired = (Dossier.objects.get(pk=i) for i in ids[1:])
    text_items = DossierItem.objects.filter(dossier=in_progress, field__type="text")
    save_draft(in_progress, {item.pk: "Head of finance" for item in text_items}, {})
    answers = {
        item.pk: "Managing director"
        for item in DossierItem.objects.filter(dossier=submitted, field__type="text")
    }
    save_draft(submitted, answers, {})
    submit(submitted, submitted.profile)
    Dossier.objects.filter(pk=expired.pk).update(
        status=Dossier.Status.EXPIRED,
        created_at=timezone.now() - dt.timedelta(days=40),
        expires_at=timezone.now() - dt.timedelta(days=10),
    )
    versions.touched(organization.pk)
