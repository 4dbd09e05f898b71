"""What the import's doors read: the data fields a row may fill, the profiles references name."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from organizations.models import Organization
from profiles.models import DataField, Profile
from profiles.selectors import active_q


def importable_fields(
    organization: Organization, kind: str, uuids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, DataField]:
    """The active, non-document data fields of `kind` among `uuids`, by UUID."""
    return {
        f.uuid: f
        for f in DataField.objects.filter(
            active_q(), organization=organization, applies_to=kind, uuid__in=list(uuids)
        )
        if not f.is_document
    }


def profiles_by_reference(
    organization: Organization, kind: str, references: Iterable[str]
) -> dict[str, uuid.UUID]:
    return dict(
        Profile.objects.filter(
            organization=organization, kind=kind, external_reference__in=list(references)
        ).values_list("external_reference", "uuid")
    )
