"""What the profile page says about a value while a dossier asks the client for it."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from dossiers.models import DossierItem, ItemReview, answerable_q
from organizations import display


def requested_updates(sender: Any, profile: Any, **kwargs: Any) -> dict[int, str]:
    """{field id: "update requested on …, awaiting the client"} for each open request."""
    rows = (
        DossierItem.objects.filter(
            answerable_q(timezone.now(), "dossier"),
            dossier__profile=profile,
        )
        # Approved while another item went back to the client: this one is settled.
        .exclude(review=ItemReview.APPROVED)
        .order_by("dossier__created_at")
        .values_list("field_id", "dossier__created_at")
    )
    return {
        field_id: _("Update requested on %(date)s, awaiting the client")
        % {"date": display.day(created)}
        for field_id, created in rows
    }
