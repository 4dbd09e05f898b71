"""Staff review: approving answers item by item, or sending items back with a reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from dossiers import foureyes
from dossiers.messages import CHANGES_REQUESTED, queue_link_messages
from dossiers.models import Dossier, DossierItem, ItemReview
from dossiers.signals import dossier_approved, requests_changed
from dossiers.writeback import Approval, write_back
from profiles.storage import forget

# A client sent back for changes gets at least this long to answer again.
CHANGES_GRACE = dt.timedelta(days=14)


class NotReviewable(Exception):
    """The dossier is not waiting for review (decided already, or by someone else)."""


class OwnAnswers(NotReviewable):
    """A member cannot decide on answers they gave on the client's behalf: four eyes."""


class Involved(OwnAnswers):
    """The decider sent the dossier's link again, or changed the contact data of whoever
    answered through it: four eyes (dossiers.foureyes)."""


def _own(item: DossierItem, user: Any) -> bool:
    """Answers a member typed for the client need another member to decide; an API key
    (no user) cannot be that second pair of eyes."""
    if item.answered_by_user_id is None:
        return False
    return user is None or item.answered_by_user_id == user.pk


def _locked(dossier: Dossier) -> tuple[Dossier, list[DossierItem]]:
    locked = (
        Dossier.objects.select_for_update(of=("self",))
        .select_related("profile", "update_group")
        .get(pk=dossier.pk)
    )
    if locked.status != Dossier.Status.TO_REVIEW:
        raise NotReviewable
    items = list(
        DossierItem.objects.filter(dossier=locked).select_related(
            "field",
            "answered_by",
            "answered_by_user",
            "written_document",
        )
    )
    return locked, items


def approve(
    dossier: Dossier, item_ids: Sequence[int] | None, user: Any, *, api_key: Any = None
) -> list[DossierItem]:
    """Approves the pending items named (all pending ones if None), writes them back and
    returns them.

    `user` is the member who decides, or None when an API key (`api_key`) does.
    """
    with transaction.atomic():
        locked, items = _locked(dossier)
        chosen = [
            item
            for item in items
            if item.review == ItemReview.PENDING and (item_ids is None or item.pk in item_ids)
        ]
        if any(_own(item, user) for item in chosen):
            raise OwnAnswers
        if foureyes.involved(locked, chosen, user=user, api_key=api_key):
            raise Involved
        now = timezone.now()
        for item in chosen:
            item.review, item.reviewed_by, item.reviewed_at = ItemReview.APPROVED, user, now
        # Saved first: the overview's cells, refreshed by the write-back, read the review.
        DossierItem.objects.bulk_update(chosen, ["review", "reviewed_by", "reviewed_at"])
        write_back(locked, chosen, Approval(user, api_key))
        _settle(locked, items, user)
    return chosen


def reject(dossier: Dossier, item_id: int, reason: str, user: Any, *, api_key: Any = None) -> None:
    """Sends one item back to the client with a reason; its answer is not written.

    `user` is the member who decides, or None when an API key (`api_key`) does.
    """
    with transaction.atomic():
        locked, items = _locked(dossier)
        item = next(
            (i for i in items if i.pk == item_id and i.review == ItemReview.PENDING),
            None,
        )
        if item is None:
            raise NotReviewable
        if _own(item, user):
            raise OwnAnswers
        if foureyes.involved(locked, [item], user=user, api_key=api_key):
            raise Involved
        rejected_file = item.upload.name if item.upload else ""
        item.review, item.rejection_reason = ItemReview.REJECTED, reason
        item.reviewed_by, item.reviewed_at = user, timezone.now()
        # The client answers afresh: the rejected file goes, a typed value stays to correct
        # but does not count as an answer again.
        # A removal sent back leaves None: asking for it again is refused the same way.
        item.rejected_answer = None if item.field.is_document else item.answer
        item.confirmed = item.remove_requested = False
        item.upload, item.upload_name, item.upload_content_type = "", "", ""
        item.upload_size = None
        item.save()
        if rejected_file:
            forget([rejected_file])
        _settle(locked, items, user)


def _settle(dossier: Dossier, items: list[DossierItem], user: Any) -> None:
    """Once no item waits: back to the client if any was rejected, otherwise approved."""
    if any(item.review == ItemReview.PENDING for item in items):
        return
    now = timezone.now()
    if any(item.review == ItemReview.REJECTED for item in items):
        dossier.status = Dossier.Status.CHANGES_REQUESTED
        dossier.expires_at = max(dossier.expires_at, now + CHANGES_GRACE)
        # Claimed by the task that tells the client, or later by the sweep.
        dossier.save(update_fields=["status", "expires_at"])
        requests_changed.send(
            sender=Dossier,
            organization_id=dossier.organization_id,
            profile_ids=[dossier.profile_id],
        )
        # One message per round of changes: its key is new each time.
        queue_link_messages([dossier.pk], CHANGES_REQUESTED, again=True)
    else:
        dossier.status = Dossier.Status.APPROVED
        dossier.decided_at = now
        dossier.save(update_fields=["status", "decided_at"])
        dossier_approved.send(sender=Dossier, dossier=dossier)
