"""Two update groups for the demo organisation, one of them due at once."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from monitoring import overview
from monitoring.models import GroupField, Unit, UpdateGroup
from organizations.models import Organization
from profiles.models import DataField, Kind

GROUPS = [
    # title, type, field labels, start offset in days from today, count, unit
    (
        "Proof of address and identity",
        Kind.CONTACT,
        ["Proof of address", "Job title"],
        0,
        3,
        Unit.MONTHS,
    ),
    (
        "Yearly company attestation",
        Kind.COMPANY,
        ["KYC attestation", "Annual turnover (EUR)"],
        30,
        1,
        Unit.YEARS,
    ),
]


# A message for each group, and the French texts for an organisation writing in English.
TEXTS = {
    "Proof of address and identity": (
        "Please check your details and upload a recent proof of address.",
        {
            "title": "Justificatif de domicile et identité",
            "message": "Merci de vérifier vos informations et d'envoyer un justificatif de "
            "domicile récent.",
        },
    ),
    "Yearly company attestation": (
        "Our yearly check: please send the signed KYC attestation and your turnover.",
        {
            "title": "Attestation annuelle de la société",
            "message": "Notre contrôle annuel : merci d'envoyer l'attestation KYC signée et "
            "votre chiffre d'affaires.",
        },
    ),
}


def seed(organization: Organization) -> None:
    today = timezone.localdate(timezone=organization.tzinfo)
    for title, kind, labels, offset, count, unit in GROUPS:
        if UpdateGroup.objects.filter(organization=organization, title=title).exists():
            continue
        message, french = TEXTS[title]
        group = UpdateGroup(
            organization=organization,
            title=title,
            message=message,
            translations={"fr": french} if organization.default_language == "en" else {},
            applies_to=kind,
            start_date=today + dt.timedelta(days=offset),
            interval_count=count,
            interval_unit=unit,
        )
        group.schedule_from()
        if offset == 0:
            # Due now, whatever the hour: a newcomer sees dossiers appear within a minute.
            group.next_run_at = min(group.next_run_at, timezone.now())
        group.save()
        GroupField.objects.bulk_create(
            GroupField(field=field, group=group, organization=organization, applies_to=kind)
            for field in DataField.objects.filter(
                organization=organization,
                applies_to=kind,
                label__in=labels,
                group_membership__isnull=True,
            )
        )
    # The fields joined their groups in bulk, past the signals: the overview's cells at once,
    # with the requests the other apps seeded before this one.
    overview.refresh(organization.pk)
