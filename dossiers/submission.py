"""The client's side of a dossier: keeping a draft, and submitting it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from dossiers import fieldpolicy, versions
from dossiers.itemrows import write_items
from dossiers.messages import queue_submission_notices
from dossiers.models import Dossier, DossierItem, ItemReview
from dossiers.signals import dossier_submitted, folded
from dossiers.writeback import AUTHOR_FIELDS, Approval, write_back
from profiles.models import Profile
from profiles.storage import forget

logger = logging.getLogger(__name__)


class WriteBackError(Exception):
    """The submission could not be written; nothing was, and the dossier is still open."""


class Closed(WriteBackError):
    """The dossier is closed: nothing was written."""


class NotAnswered(WriteBackError):
    """Some items of an update dossier have no fresh answer yet."""

    def __init__(self, items: Sequence[DossierItem]) -> None:
        super().__init__(f"{len(items)} item(s) without a fresh answer")
        self.items = list(items)


def editable_items(dossier: Dossier, items: Sequence[DossierItem]) -> list[DossierItem]:
    """The items the client may answer: all of them, or after a review the rejected ones."""
    if dossier.status == Dossier.Status.CHANGES_REQUESTED:
        return [item for item in items if item.review == ItemReview.REJECTED]
    return list(items)


def needs_review(dossier: Dossier, items: Sequence[DossierItem]) -> bool:
    """Review is a setting of the update group, which the dossier carries since it was opened;
    an expiry request follows its fields' groups."""
    if dossier.kind != Dossier.Kind.UPDATE:
        return False
    if dossier.update_group_id is not None:
        return dossier.review_required
    return fieldpolicy.policy().review_required([item.field for item in items])


def mark_opened(dossier: Dossier) -> None:
    """The first time a client follows the link: recorded once, shown to staff."""
    opened = Dossier.objects.filter(
        Q(first_opened_at__isnull=True) | Q(status=Dossier.Status.OPEN), pk=dossier.pk
    ).update(
        first_opened_at=Coalesce("first_opened_at", Value(timezone.now())),
        status=Case(
            When(status=Dossier.Status.OPEN, then=Value(Dossier.Status.OPENED)),
            default=F("status"),
        ),
    )
    if opened:
        versions.touched(dossier.organization_id)


# What a draft writes of an item: the answer, the upload, and who gave them.
DRAFT_FIELDS = (
    "answer",
    "answered",
    "confirmed",
    "remove_requested",
    "upload",
    "upload_name",
    "upload_content_type",
    "upload_size",
    "answered_by",
    "answered_by_user",
    "answered_via",
)


@dataclass(frozen=True, kw_only=True)
class Draft:
    """What a page of the portal sends: the arguments of `save_draft`, kept for a submit."""

    answers: Mapping[int, Any]
    uploads: Mapping[int, tuple[str, str, str, int]]
    confirmations: Mapping[int, bool] = field(default_factory=dict)
    removals: Mapping[int, bool] = field(default_factory=dict)


def _lock(dossier: Dossier) -> Dossier:
    """The dossier, locked for a write, with what a submission reads of it; refused once it
    is closed."""
    locked = (
        Dossier.objects.select_for_update(of=("self",))
        .select_related("profile", "update_group", "organization")
        .get(pk=dossier.pk)
    )
    if locked.status not in Dossier.OPEN_STATUSES:
        raise Closed("already closed")
    return locked


def _draft_state(item: DossierItem) -> tuple[Any, ...]:
    return (
        item.answer,
        item.answered,
        item.confirmed,
        item.remove_requested,
        item.upload.name,
        item.upload_name,
        item.upload_content_type,
        item.upload_size,
    )


def save_draft(
    dossier: Dossier,
    answers: dict[int, Any],
    uploads: dict[int, tuple[str, str, str, int]],
    confirmations: dict[int, bool] | None = None,
    *,
    removals: dict[int, bool] | None = None,
    recipient: Profile | None = None,
    on_behalf_by: Any = None,
    via: str = "",
) -> bool:
    """Keeps the client's answers and uploads without touching the profile; says whether
    any item changed. `via` is the address the link in use was e-mailed to.

    `answers` maps item ids to canonical values; None is "not answered" (the draft's answer
    is forgotten), unless `removals` says the client asked to remove the value on file —
    the only way an item comes to remove one. `uploads` maps item ids to (storage key, clean
    name, content type, size) of files already stored; a draft upload replaced by another,
    or by a removal, is recorded for deletion. An item whose answer this draft changes is
    attributed to whoever typed it: the recipient, or the staff member on their behalf.
    """
    draft = Draft(
        answers=answers,
        uploads=uploads,
        confirmations=confirmations or {},
        removals=removals or {},
    )
    with transaction.atomic():
        locked = _lock(dossier)
        items = {
            i.pk: i
            for i in DossierItem.objects.filter(
                dossier=locked,
                pk__in=[*answers, *uploads, *draft.confirmations, *draft.removals],
            ).select_related("field")
        }
        return _save_draft(locked, items, draft, recipient, on_behalf_by, via)


def _save_draft(
    locked: Dossier,
    items: dict[int, DossierItem],
    draft: Draft,
    recipient: Profile | None,
    on_behalf_by: Any,
    via: str,
) -> bool:
    """`save_draft` of the locked dossier, whose `items` hold at least those the draft names."""
    before = {pk: _draft_state(item) for pk, item in items.items()}
    replaced: list[str] = []
    touched: set[int] = set()
    for item_id, removing in draft.removals.items():
        item = items[item_id]
        removing = removing and item.can_be_removed
        if item.remove_requested != removing:
            touched.add(item_id)
            if not removing:  # the removal withdrawn: back to "not answered"
                item.answer, item.answered = None, bool(item.upload)
        item.remove_requested = removing
        if removing:
            item.answer, item.answered, item.confirmed = None, True, False
            if item.upload.name:
                replaced.append(item.upload.name)
                item.upload, item.upload_name, item.upload_content_type = "", "", ""
                item.upload_size = None
    for item_id, value in draft.answers.items():
        item = items[item_id]
        if item.remove_requested:
            continue
        answered = value is not None
        if item.answered != answered or item.answer != value:
            touched.add(item_id)
        item.answer, item.answered = value, answered
    for item_id, confirmed in draft.confirmations.items():
        if items[item_id].confirmed != confirmed:
            touched.add(item_id)
        items[item_id].confirmed = confirmed
    for item_id, (key, name, content_type, size) in draft.uploads.items():
        item = items[item_id]
        if item.remove_requested:
            replaced.append(key)  # the form refuses both; for any other caller, the removal wins
            continue
        if item.upload.name:
            replaced.append(item.upload.name)
        item.upload = key
        item.upload_name, item.upload_content_type, item.upload_size = name, content_type, size
        item.answered = True
        touched.add(item_id)
    for item_id in touched:
        items[item_id].answered_by = recipient
        items[item_id].answered_by_user = on_behalf_by
        items[item_id].answered_via = via
    # Only the items this draft changed are written: one statement for them all.
    write_items(
        [i for pk, i in items.items() if pk in touched or _draft_state(i) != before[pk]],
        DRAFT_FIELDS,
    )
    if locked.status in (Dossier.Status.OPEN, Dossier.Status.OPENED):
        locked.status = Dossier.Status.IN_PROGRESS
        moved = ["status"]
        if locked.first_opened_at is None and on_behalf_by is None:
            # The client's own draft is their first look, when none was recorded: the
            # portal's page posted and saved marks it here, in the same UPDATE.
            locked.first_opened_at = timezone.now()
            moved.append("first_opened_at")
        locked.save(update_fields=moved)
        versions.touched(locked.organization_id)
    forget(replaced)
    return bool(touched)


def submit(
    dossier: Dossier, recipient: Profile | None, *, on_behalf_by: Any = None, via: str = ""
) -> str:
    """Submits the client's saved answers, all or nothing; returns the dossier's new status.

    Without review the answers are written back at once and the dossier is Received; with
    review it waits, To review, for staff. `on_behalf_by` is the staff member who filled the
    client's page: the answers are recorded as theirs, and the client is not thanked for
    answers they never gave.
    """
    try:
        with transaction.atomic():
            locked = _lock(dossier)
            items = list(DossierItem.objects.filter(dossier=locked).select_related("field"))
            return _submit(locked, items, recipient, on_behalf_by, via)
    except WriteBackError:
        raise
    except Exception as error:
        logger.exception("Write-back of dossier %s failed", dossier.pk)
        raise WriteBackError(str(error)) from error


def save_and_submit(
    dossier: Dossier,
    draft: Draft,
    recipient: Profile | None,
    *,
    on_behalf_by: Any = None,
    via: str = "",
) -> tuple[bool, str | WriteBackError]:
    """`save_draft`, then `submit`, the dossier locked and its items read once.

    The submission runs in a savepoint of the draft's transaction: when it fails, the draft
    is kept as `save_draft` alone keeps it, and the error is returned, not raised, so that
    the caller's transaction commits the draft. Returns whether the draft changed an item,
    and the dossier's new status or the submission's error. Raises `Closed`, and then
    nothing was written, when the dossier is closed.
    """
    with transaction.atomic(savepoint=False):
        locked = _lock(dossier)
        items = list(DossierItem.objects.filter(dossier=locked).select_related("field"))
        changed = _save_draft(
            locked, {item.pk: item for item in items}, draft, recipient, on_behalf_by, via
        )
        try:
            with transaction.atomic():
                return changed, _submit(locked, items, recipient, on_behalf_by, via)
        except WriteBackError as error:
            return changed, error
        except Exception as error:
            logger.exception("Write-back of dossier %s failed", dossier.pk)
            return changed, WriteBackError(str(error))


def _submit(
    locked: Dossier,
    items: list[DossierItem],
    recipient: Profile | None,
    on_behalf_by: Any,
    via: str,
) -> str:
    """`submit` of the locked dossier and all its `items`, in the caller's transaction."""
    answering = editable_items(locked, items)
    if locked.needs_fresh_answers:
        missing = [item for item in answering if not item.has_fresh_answer]
        if missing:
            raise NotAnswered(missing)
    for item in answering:
        # Answers kept from before (a draft) stay attributed to whoever typed them.
        if item.answered_by_id is None and item.answered_by_user_id is None:
            item.answered_by = recipient
            item.answered_by_user = on_behalf_by
            item.answered_via = via
        # Mostly the one submitting, whom the write-back names without reading them again.
        elif recipient is not None and item.answered_by_id == recipient.pk:
            item.answered_by = recipient
    now = timezone.now()
    # The write-back's receivers and the submission's refresh a profile's derived rows
    # (its compliance cells) once, when both are done.
    with folded():
        if needs_review(locked, items):
            for item in answering:
                item.review, item.rejection_reason = ItemReview.PENDING, ""
            write_items(answering, [*AUTHOR_FIELDS, "review", "rejection_reason"])
            locked.status = Dossier.Status.TO_REVIEW
        else:
            write_back(locked, answering, Approval())
            locked.status = Dossier.Status.SUBMITTED
            locked.decided_at = now
        locked.submitted_at = now
        locked.submitted_by = recipient
        locked.submitted_by_user = on_behalf_by
        locked.submitted_via = via
        locked.save(
            update_fields=[
                "status",
                "submitted_at",
                "decided_at",
                "submitted_by",
                "submitted_by_user",
                "submitted_via",
            ]
        )
        dossier_submitted.send(sender=Dossier, dossier=locked)
    # Each submission (a second one after changes were requested too) is announced.
    queue_submission_notices(locked, recipient, thank_client=on_behalf_by is None)
    return locked.status
