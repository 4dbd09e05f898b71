"""Two update groups for the demo organisation, one of them due at once."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from monitoring.models import Unit, UpdateGroup
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


def seed(organization: Organization) -> None:
    today = timezone.localdate(timezone=organization.tzinfo)
    for title, kind, labels, offset, count, unit in GROUPS:
        if UpdateGroup.objects.filter(organization=organization, title=title).exists():
            continue
        group = UpdateGroup(
            organization=organization,
            title=title,
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
        DataField.objects.filter(
            organization=organization,
            applies_to=kind,
            label__in=labels,
            update_group__isnull=True,
        ).update(update_group=group)
