"""Values past their expiry date: each is asked for again, once, by an update dossier."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem, answerable_q
from dossiers.opening import open_dossiers
from monitoring.signals import values_expired
from organizations.models import Organization
from organizations.tenancy import each_in_scope
from profiles.models import DataField, FieldValue
from profiles.selectors import active_q

EXPIRED_TITLE = _("Expired information")


def open_dossiers_for_expired_values(now: dt.datetime | None = None) -> int:
    """Opens one update dossier per profile for its expired values, unless one is open.

    Crosses tenants by design. "Expired" is judged by each organisation's local date.
    """
    now = now or timezone.now()
    opened = 0
    with scopes_disabled():
        candidates = list(
            FieldValue.objects.filter(
                active_q("field"),
                active_q("profile"),
                expires_on__lte=now.date() + dt.timedelta(days=1),
            ).values_list(
                "organization_id", "organization__time_zone", "profile_id", "field_id", "expires_on"
            )
        )
        expired = [
            (org_id, profile_id, field_id)
            for org_id, tz, profile_id, field_id, expires_on in candidates
            if expires_on is not None and expires_on < now.astimezone(ZoneInfo(tz)).date()
        ]
        expiry = {(p, f): expires_on for _, _, p, f, expires_on in candidates}
        if not expired:
            return 0
        asked = set(
            DossierItem.objects.filter(
                # Answered but awaiting review counts as asked, whatever its link's date.
                answerable_q(now, "dossier") | Q(dossier__status=Dossier.Status.TO_REVIEW),
                dossier__profile_id__in={p for _, p, _ in expired},
            ).values_list("dossier__profile_id", "field_id")
        )
        by_org: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for org_id, profile_id, field_id in expired:
            if (profile_id, field_id) not in asked:
                by_org[org_id][profile_id].append(field_id)
        organizations = Organization.objects.in_bulk(list(by_org))
    for org_id, profiles in each_in_scope(by_org.items(), lambda pair: organizations[pair[0]]):
        organization = organizations[org_id]
        values_expired.send(
            sender=FieldValue,
            organization=organization,
            values=[(p, f, expiry[(p, f)]) for p, fs in profiles.items() for f in fs],
        )
        fields = DataField.objects.in_bulk({f for fs in profiles.values() for f in fs})
        by_fieldset: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for profile_id, field_ids in profiles.items():
            by_fieldset[tuple(sorted(field_ids))].append(profile_id)
        for fieldset, profile_ids in by_fieldset.items():
            ordered = sorted((fields[f] for f in fieldset), key=lambda f: (f.position, f.pk))
            with translation.override(organization.default_language):
                title = str(EXPIRED_TITLE)
            opened += len(
                open_dossiers(
                    organization,
                    profile_ids,
                    ordered,
                    kind=Dossier.Kind.UPDATE,
                    title=title,
                )
            )
    return opened
