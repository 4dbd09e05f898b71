"""Staff review: approving answers item by item, or sending items back with a reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from dossiers import foureyes
from dossiers.messages import CHANGES_REQUESTED, queue_link_messages
from dossiers.models import Dossier, DossierItem, ItemRejection, ItemReview
from dossiers.signals import dossier_approved, requests_changed
from dossiers.writeback import Approval, write_back
from outbox.models import Message

# A client sent back for changes gets at least this long to answer again.
CHANGES_GRACE = dt.timedelta(days=14)
# How long the e-mail asking for changes waits in the outbox, so that "Undo" can stop it;
# the outbox's periodic drain sends it after that.
UNDO_GRACE = dt.timedelta(seconds=60)
# How long after a decision its row offers "Undo" (the undo checks again when clicked).
UNDO_OFFERED = dt.timedelta(minutes=10)


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
        now = timezone.now()
        # Kept with its file: staff still see what was sent back, and an undo restores it.
        ItemRejection.objects.create(
            organization_id=item.organization_id,
            item=item,
            reason=reason,
            rejected_by=user,
            rejected_at=now,
            answer=item.answer,
            previous_rejected_answer=item.rejected_answer,
            confirmed=item.confirmed,
            remove_requested=item.remove_requested,
            upload=item.upload.name if item.upload else "",
            upload_name=item.upload_name,
            upload_content_type=item.upload_content_type,
            upload_size=item.upload_size,
        )
        item.review, item.rejection_reason = ItemReview.REJECTED, reason
        item.reviewed_by, item.reviewed_at = user, now
        # The client answers afresh: the rejected file leaves the item (the rejection keeps
        # it), a typed value stays to correct but does not count as an answer again.
        # A removal sent back leaves None: asking for it again is refused the same way.
        item.rejected_answer = None if item.field.is_document else item.answer
        item.confirmed = item.remove_requested = False
        item.upload, item.upload_name, item.upload_content_type = "", "", ""
        item.upload_size = None
        item.save()
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
        # One message per round of changes: its key is new each time. It waits a moment in
        # the outbox so that the decision can still be undone before the client hears of it.
        queue_link_messages([dossier.pk], CHANGES_REQUESTED, again=True)
        Message.objects.filter(
            dossier_link__dossier=dossier,
            kind=CHANGES_REQUESTED,
            status=Message.Status.QUEUED,
            attempts=0,
        ).update(next_attempt_at=now + UNDO_GRACE)
    else:
        dossier.status = Dossier.Status.APPROVED
        dossier.decided_at = now
        dossier.save(update_fields=["status", "decided_at"])
        dossier_approved.send(sender=Dossier, dossier=dossier)


class CannotUndo(Exception):
    """The decision can no longer be taken back; the message says why."""


def undo_rejection(dossier: Dossier, item_id: int) -> ItemRejection:
    """Takes back the latest sending back of an item while the client has not heard of it:
    its e-mail, if one was queued, is cancelled in the outbox (only while no worker holds
    it), and the item waits for review again with the answer and file the client gave."""
    with transaction.atomic():
        locked = (
            Dossier.objects.select_for_update(of=("self",))
            .select_related("profile")
            .get(pk=dossier.pk)
        )
        item = DossierItem.objects.select_related("field").get(pk=item_id, dossier=locked)
        rejection = item.rejections.filter(undone_at__isnull=True).first()
        if (
            rejection is None
            or item.review != ItemReview.REJECTED
            or locked.status not in (Dossier.Status.TO_REVIEW, Dossier.Status.CHANGES_REQUESTED)
        ):
            raise CannotUndo(gettext("This answer is no longer sent back: nothing to undo."))
        if locked.status == Dossier.Status.CHANGES_REQUESTED:
            asked = Message.objects.filter(
                dossier_link__dossier=locked,
                kind=CHANGES_REQUESTED,
                created_at__gte=rejection.rejected_at,
            )
            # A conditional UPDATE: a row a worker claimed meanwhile (attempts > 0) is not
            # touched, and then the client may be reading the e-mail already.
            waiting = asked.filter(status=Message.Status.QUEUED, attempts=0)
            total = asked.count()
            if waiting.update(status=Message.Status.CANCELLED, done_at=timezone.now()) != total:
                raise CannotUndo(
                    gettext(
                        "The client has been e-mailed already: ask them again to keep their "
                        "first answer, or decide on what they send next."
                    )
                )
            locked.status = Dossier.Status.TO_REVIEW
            locked.save(update_fields=["status"])
            requests_changed.send(
                sender=Dossier,
                organization_id=locked.organization_id,
                profile_ids=[locked.profile_id],
            )
        item.review, item.rejection_reason = ItemReview.PENDING, ""
        item.reviewed_by = item.reviewed_at = None
        item.rejected_answer = rejection.previous_rejected_answer
        item.answer = rejection.answer
        item.confirmed, item.remove_requested = rejection.confirmed, rejection.remove_requested
        item.upload = rejection.upload.name if rejection.upload else ""
        item.upload_name = rejection.upload_name
        item.upload_content_type = rejection.upload_content_type
        item.upload_size = rejection.upload_size
        item.save()
        rejection.undone_at = timezone.now()
        # The file is the item's again: the rejection keeps its words, not a second reference.
        rejection.upload = ""
        rejection.save(update_fields=["undone_at", "upload"])
    return rejection


def reopen_approved(dossier: Dossier, item_id: int) -> DossierItem:
    """An approved item waits for review again (its value on the profile is put back by the
    caller, through the profile's history); an approved dossier is back under review."""
    with transaction.atomic():
        locked = Dossier.objects.select_for_update(of=("self",)).get(pk=dossier.pk)
        item = DossierItem.objects.select_related("field").get(pk=item_id, dossier=locked)
        if item.review != ItemReview.APPROVED or locked.status not in (
            Dossier.Status.TO_REVIEW,
            Dossier.Status.APPROVED,
        ):
            raise CannotUndo(gettext("This answer is no longer approved: nothing to undo."))
        item.review, item.reviewed_by, item.reviewed_at = ItemReview.PENDING, None, None
        item.save(update_fields=["review", "reviewed_by", "reviewed_at"])
        if locked.status == Dossier.Status.APPROVED:
            locked.status, locked.decided_at = Dossier.Status.TO_REVIEW, None
            locked.save(update_fields=["status", "decided_at"])
            requests_changed.send(
                sender=Dossier,
                organization_id=locked.organization_id,
                profile_ids=[locked.profile_id],
            )
    return item
