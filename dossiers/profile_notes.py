"""What the profile's pages say about dossiers: a value a dossier asks the client for, and the
dossier a value came from."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from dossiers.models import Dossier, DossierItem, DossierRecord, ItemReview, answerable_q
from organizations import display


def _awaited(profile: Any) -> Any:
    # Approved while another item went back to the client: that one is settled.
    return DossierItem.objects.filter(
        answerable_q(timezone.now(), "dossier"), dossier__profile=profile
    ).exclude(review=ItemReview.APPROVED)


def any_requested_update() -> Exists:
    """Whether the profile of the outer query has a value awaited from the client: the
    profile page reads it with the profile (profiles.attention.register_notes)."""
    return Exists(_awaited(OuterRef("pk")))


def requested_updates(profile: Any) -> dict[int, str]:
    """{field id: "update requested on …, awaiting the client"} for each open request."""
    rows = (
        _awaited(profile)
        .order_by("dossier__created_at")
        .values_list("field_id", "dossier__created_at")
    )
    return {
        field_id: _("Update requested on %(date)s, awaiting the client")
        % {"date": display.day(created)}
        for field_id, created in rows
    }


def dossier_names(sender: Any, organization: Any, uuids: set[Any], **kwargs: Any) -> dict[Any, str]:
    """{uuid: "title of date"} of the dossiers named, live or purged (their record), with the
    title in the reader's language: two queries, whatever the number of rows."""
    if not uuids:
        return {}
    found = list(
        Dossier.objects.filter(organization=organization, uuid__in=uuids).select_related(
            "update_group"
        )
    )
    names = {d.uuid: (d.local_title, d.created_at) for d in found}
    purged = (
        DossierRecord.objects.filter(organization=organization, dossier_uuid__in=uuids - set(names))
        .select_related("update_group")
        .only("dossier_uuid", "title", "created_at", "update_group")
    )
    for record in purged:
        group = record.update_group
        names[record.dossier_uuid] = (
            group.local_title if group is not None else record.title,
            record.created_at,
        )
    return {
        uuid: _("%(title)s of %(date)s") % {"title": title, "date": display.day(created)}
        for uuid, (title, created) in names.items()
    }
