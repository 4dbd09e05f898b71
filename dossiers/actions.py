"""The verbs of dossiers, one function each (DESIGN.md, "Doors, actions and selectors").

Each action checks its rule, writes in one transaction, records the audit entry through its
actor and lets the lower-level machinery (`opening`, `submission`, `review`, `retention`)
send the signals as it always did. The back office, the portal, the API, the management
command and the tasks translate their input, call one of these, and translate back what it
raises: a `ValidationError` naming the field, or the review's `NotReviewable`/`OwnAnswers`
(and its `Involved`: four eyes on where the link went, `dossiers.foureyes`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django_scopes import scope, scopes_disabled

from dossiers import audit as audit_actions
from dossiers import foureyes, retention, review, selectors, submission
from dossiers.messages import RESEND, queue_link_messages
from dossiers.models import AccessToken, Dossier, DossierItem, RequestPolicy
from dossiers.opening import open_dossiers
from organizations.actors import Actor, ActorKind
from organizations.models import Organization
from outbox import selectors as outbox_selectors
from profiles import actions as profile_actions
from profiles.models import DataField, FieldValueHistory, Profile

# What staff answer when a client's answers are decided: a member or an API key.
_DECIDERS = (ActorKind.MEMBER, ActorKind.API_KEY)


@dataclass(frozen=True, kw_only=True)
class Decision:
    """What a review decision did: the items it approved, and the dossier's status after."""

    approved: tuple[DossierItem, ...]
    status: str


@dataclass(frozen=True, kw_only=True)
class Purge:
    expired: int
    purged: int


def _require(actor: Actor, *kinds: ActorKind) -> None:
    # A wrong kind of actor is a programming error, not an input to translate.
    if actor.kind not in kinds:
        raise ValueError(f"{actor.kind} cannot do this")


def check_dossier_can_open(profile: Profile) -> None:
    """Raises the reason no dossier can be opened for this profile, if there is one: an
    archived profile is asked for nothing."""
    if profile.is_archived:
        raise ValidationError(
            {"profile": gettext("This profile is archived: restore it to open a dossier.")}
        )


def open_dossier(
    profile: Profile,
    *,
    fields: Sequence[DataField],
    title: str,
    message: str = "",
    days: int,
    actor: Actor,
) -> Dossier:
    """Opens a classic dossier asking `profile` for `fields`; its link goes out on commit.

    Only for a profile not archived, and only the organisation's active fields of the
    profile's kind.
    """
    _require(actor, *_DECIDERS)
    check_dossier_can_open(profile)
    if not fields:
        raise ValidationError({"fields": gettext("This field is required.")})
    if any(
        field.organization_id != profile.organization_id or field.archived_at is not None
        for field in fields
    ):
        raise ValidationError(
            {"fields": gettext("Choose among this organisation's active fields.")}
        )
    wrong = [field.label for field in fields if field.applies_to != profile.kind]
    if wrong:
        raise ValidationError(
            {
                "fields": gettext("Not fields of this profile's type: %(labels)s.")
                % {"labels": ", ".join(wrong)}
            }
        )
    with transaction.atomic():
        [dossier_id] = open_dossiers(
            profile.organization,
            [profile.pk],
            list(fields),
            kind=Dossier.Kind.CLASSIC,
            title=title,
            message=message,
            expires_at=timezone.now() + dt.timedelta(days=days),
            created_by=actor.member_user,
        )
        dossier = Dossier.objects.select_related("profile", "organization").get(pk=dossier_id)
        actor.audit(
            dossier.organization,
            audit_actions.DOSSIER_CREATED,
            dossier.title,
            about=[dossier],
            dossier=dossier.uuid,
            profile=profile.display_name,
        )
    return dossier


def set_policy(
    *, organization: Organization, update_group_id: int, policy: RequestPolicy, actor: Actor
) -> int:
    """Hands the new policy of the group `update_group_id` to its running dossiers (the client
    may still answer, or staff still decide): the next submission and the next reminder pass
    follow it. A decided dossier keeps the policy it was decided under. Returns how many
    dossiers it changed.

    Called by the group's save, whose audit entry says what changed: this records none of
    its own. A dossier never reads its group: this is how the group's word reaches it.
    """
    _require(actor, *_DECIDERS, ActorKind.SYSTEM)
    with transaction.atomic():
        changed: int = (
            Dossier.objects.filter(organization=organization, update_group_id=update_group_id)
            .running()
            .update(**policy.columns())
        )
    return changed


def save_draft(
    dossier: Dossier,
    *,
    answers: Mapping[int, Any],
    uploads: Mapping[int, tuple[str, str, str, int]],
    confirmations: Mapping[int, bool] | None = None,
    removals: Mapping[int, bool] | None = None,
    via: str = "",
    actor: Actor,
) -> bool:
    """Keeps the client's answers and stored uploads as a draft; says whether any changed.

    `actor` is the recipient, or a member on their behalf (then audited); `via` the address
    the link in use was e-mailed to. Raises `submission.WriteBackError` when the dossier is
    closed.
    """
    _require(actor, ActorKind.CLIENT)
    with transaction.atomic():
        changed = submission.save_draft(
            dossier,
            dict(answers),
            dict(uploads),
            dict(confirmations or {}),
            removals=dict(removals or {}),
            recipient=actor.client,
            on_behalf_by=actor.user,
            via=via,
        )
        if changed:
            _audit_drafted(dossier, actor)
    return changed


def _audit_drafted(dossier: Dossier, actor: Actor) -> None:
    """The audit entry of a draft that staff saved on the client's behalf, whichever door
    saved it."""
    if actor.on_behalf:
        actor.audit(
            dossier.organization,
            audit_actions.DOSSIER_DRAFTED_ON_BEHALF,
            dossier,
            dossier=dossier.uuid,
        )


def submit(
    dossier: Dossier, *, via: str = "", actor: Actor, draft: submission.Draft | None = None
) -> str:
    """Submits the saved draft, all or nothing; returns the dossier's new status. `via` is
    the address the link in use was e-mailed to.

    With `draft` (a page's answers and stored uploads), `save_draft` of it comes first in the
    same transaction, and stays when the submission fails, as if saved on its own.

    Raises `submission.NotAnswered` (naming the items) or `submission.WriteBackError`, and
    then nothing was written but the draft; `submission.Closed` when the dossier is closed,
    and then nothing was written at all.
    """
    _require(actor, ActorKind.CLIENT)
    failed: submission.WriteBackError | None = None
    with transaction.atomic():
        if draft is None:
            status = submission.submit(dossier, actor.client, on_behalf_by=actor.user, via=via)
        else:
            changed, outcome = submission.save_and_submit(
                dossier, draft, actor.client, on_behalf_by=actor.user, via=via
            )
            if changed:
                _audit_drafted(dossier, actor)
            if isinstance(outcome, submission.WriteBackError):
                failed = outcome
            else:
                status = outcome
        if failed is None and actor.on_behalf:
            actor.audit(
                dossier.organization,
                audit_actions.DOSSIER_SUBMITTED_ON_BEHALF,
                dossier,
                dossier=dossier.uuid,
            )
    if failed is not None:
        raise failed
    return status


def approve(dossier: Dossier, *, item_ids: Sequence[int] | None, actor: Actor) -> Decision:
    """Approves the pending items named (every pending one if None) and writes them back.

    Raises `review.NotReviewable` when the dossier is not under review, `review.OwnAnswers`
    when the decider gave an answer on the client's behalf, `review.Involved` when they sent
    its link again or set the address it went to (`dossiers.foureyes`).
    """
    _require(actor, *_DECIDERS)
    with transaction.atomic():
        approved = review.approve(
            dossier,
            item_ids,
            actor.member_user,
            api_key=actor.api_key if actor.kind == ActorKind.API_KEY else None,
        )
        if approved:
            actor.audit(
                dossier.organization,
                audit_actions.DOSSIER_APPROVED,
                dossier,
                dossier=dossier.uuid,
                items=[item.field.label for item in approved],
            )
        status = Dossier.objects.values_list("status", flat=True).get(pk=dossier.pk)
    return Decision(approved=tuple(approved), status=status)


def send_back(dossier: Dossier, *, item: DossierItem, reason: str, actor: Actor) -> Decision:
    """Sends one item back to the client with the reason they will read.

    Raises `review.NotReviewable` or `review.OwnAnswers` as `approve` does.
    """
    _require(actor, *_DECIDERS)
    if item.dossier_id != dossier.pk:
        raise ValidationError({"item": gettext("Not an item of this dossier.")})
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": gettext("Say what the client should correct.")})
    with transaction.atomic():
        review.reject(
            dossier,
            item.pk,
            reason,
            actor.member_user,
            api_key=actor.api_key if actor.kind == ActorKind.API_KEY else None,
        )
        actor.audit(
            dossier.organization,
            audit_actions.DOSSIER_REJECTED,
            dossier,
            dossier=dossier.uuid,
            item=item.field.label,
            reason=reason,
        )
        status = Dossier.objects.values_list("status", flat=True).get(pk=dossier.pk)
    return Decision(approved=(), status=status)


@dataclass(frozen=True, kw_only=True)
class Undone:
    """A decision taken back: the item waits for review again."""

    item: DossierItem
    kind: str  # "approval" or "send_back"


def undo_approval(dossier: Dossier, *, item: DossierItem, actor: Actor) -> Undone:
    """Takes back the approval of one item: the profile gets back the value the approval
    replaced, through the history's own restore (a change of its own, audited), and the
    item waits for review again. Only while the approval is the last change of that value,
    and only for an approval that replaced something.

    Raises `review.CannotUndo` with the reason otherwise.
    """
    _require(actor, *_DECIDERS)
    if item.dossier_id != dossier.pk:
        raise ValidationError({"item": gettext("Not an item of this dossier.")})
    with transaction.atomic():
        last = (
            FieldValueHistory.objects.filter(profile_id=dossier.profile_id, field_id=item.field_id)
            .select_related("field", "profile", "profile__organization", "old_document")
            .order_by("-changed_at", "-id")
            .first()
        )
        if last is None or last.dossier_uuid != dossier.uuid:
            raise review.CannotUndo(
                gettext(
                    "The value changed on the profile since it was approved: restore an "
                    "earlier value from its history instead."
                )
            )
        if not profile_actions.restorable(last):
            raise review.CannotUndo(
                gettext(
                    "This approval replaced nothing: remove the value on the profile if it "
                    "was wrong."
                )
            )
        reopened = review.reopen_approved(dossier, item.pk)
        profile_actions.restore_value(last, actor=actor)
        actor.audit(
            dossier.organization,
            audit_actions.DOSSIER_APPROVAL_UNDONE,
            dossier,
            dossier=dossier.uuid,
            item=item.field.label,
        )
    return Undone(item=reopened, kind="approval")


def undo_send_back(dossier: Dossier, *, item: DossierItem, actor: Actor) -> Undone:
    """Takes back the sending back of one item while the client has not been e-mailed: the
    e-mail is cancelled in the outbox and the item waits for review again, with the answer
    and file the client gave.

    Raises `review.CannotUndo` with the reason otherwise.
    """
    _require(actor, *_DECIDERS)
    if item.dossier_id != dossier.pk:
        raise ValidationError({"item": gettext("Not an item of this dossier.")})
    with transaction.atomic():
        rejection = review.undo_rejection(dossier, item.pk)
        actor.audit(
            dossier.organization,
            audit_actions.DOSSIER_SEND_BACK_UNDONE,
            dossier,
            dossier=dossier.uuid,
            item=item.field.label,
            reason=rejection.reason,
        )
    item.refresh_from_db()
    return Undone(item=item, kind="send_back")


def resend_link(dossier: Dossier, *, actor: Actor) -> list[str]:
    """Sends the client a new link to an open dossier, to each recipient whose address
    does not fail; returns the failing addresses left out. With every address failing,
    nothing is sent and the member is told why."""
    _require(actor, *_DECIDERS)
    if not dossier.is_open:
        raise ValidationError(gettext("This dossier is closed: there is no link to send."))
    addresses = [person.email for person in selectors.recipients(dossier) if person.email]
    failing = sorted(outbox_selectors.failing_addresses(dossier.organization_id, addresses))
    if addresses and len(failing) == len({a.strip().lower() for a in addresses}):
        raise ValidationError(
            gettext(
                "Nothing was sent: e-mails to %(addresses)s bounce or were reported as spam. "
                "Correct the address on the profile, or try it again from there."
            )
            % {"addresses": ", ".join(failing)}
        )
    with transaction.atomic():
        queue_link_messages([dossier.pk], RESEND, again=True, skip_failing=True)
        # Who sent the link again does not decide on what comes back through it.
        foureyes.record_link_sent(dossier, actor=actor)
        actor.audit(
            dossier.organization,
            audit_actions.DOSSIER_RESENT,
            dossier.title,
            about=[dossier],
            dossier=dossier.uuid,
        )
    return failing


def open_client_page(dossier: Dossier, *, actor: Actor) -> str:
    """A link to the client's page for the member to fill in on the client's behalf.

    The link is the member's own (it works in their session only) and answers the first
    recipient; returns its token.
    """
    _require(actor, ActorKind.MEMBER)
    recipients = selectors.recipients(dossier)
    if not recipients:
        raise ValidationError(
            gettext("Nobody: this profile is archived.")
            if dossier.profile.is_archived
            else gettext("This company has no representative to answer for it.")
        )
    with transaction.atomic():
        token = AccessToken.issue(dossier, recipients[0], issued_to=actor.user)
        actor.audit(
            dossier.organization,
            audit_actions.CLIENT_PAGE_OPENED,
            dossier.title,
            about=[dossier],
            dossier=dossier.uuid,
        )
    return token


def note_upload_downloaded(
    dossier: Dossier, *, item: DossierItem, actor: Actor, inline: bool = False
) -> None:
    """A client's upload awaiting review was read: downloaded (it left the back office) or
    shown in the review page. Who saw it is kept either way."""
    _require(actor, ActorKind.MEMBER)
    actor.audit(
        dossier.organization,
        audit_actions.UPLOAD_VIEWED if inline else audit_actions.UPLOAD_DOWNLOADED,
        item.upload_name,
        about=[dossier],
        dossier=dossier.uuid,
        field=item.field.label,
    )


def revoke_links(tokens: QuerySet[AccessToken], *, reason: str, actor: Actor) -> int:
    """Deletes these links for good; one audit entry per person whose links went, none if
    none did. Called from a change to a person in any scope: the tokens are read across
    tenants, and each entry is written in its person's organisation."""
    _require(actor, ActorKind.SYSTEM, *_DECIDERS)
    with transaction.atomic(), scopes_disabled():
        revoked = list(tokens.select_related("recipient", "organization"))
        AccessToken.objects.filter(pk__in=[token.pk for token in revoked]).delete()
        per_person: dict[int, list[AccessToken]] = {}
        for token in revoked:
            per_person.setdefault(token.recipient_id, []).append(token)
        for tokens_of_person in per_person.values():
            person, organization = tokens_of_person[0].recipient, tokens_of_person[0].organization
            with scope(organization=organization):
                actor.audit(
                    organization,
                    audit_actions.LINKS_REVOKED,
                    person.display_name,
                    about=[person],
                    reason=reason,
                    links=len(tokens_of_person),
                )
    return len(revoked)


def purge(*, actor: Actor, now: dt.datetime | None = None) -> Purge:
    """Expires overdue dossiers, then purges update dossiers past their month, keeping a
    record of each; each batch's audit entries, one per organisation, are written in its
    transaction. Crosses tenants: the caller runs it with scopes disabled."""
    _require(actor, ActorKind.SYSTEM)
    organizations: dict[int, Organization] = {}

    def audit_batch(purged: Counter[int]) -> None:
        missing = [pk for pk in purged if pk not in organizations]
        organizations.update(Organization.objects.in_bulk(missing))
        for organization_id, count in sorted(purged.items()):
            organization = organizations[organization_id]
            with scope(organization=organization):
                actor.audit(
                    organization, audit_actions.DOSSIERS_PURGED, organization, dossiers=count
                )

    expired = retention.expire_dossiers(now)
    purged = retention.purge_dossiers(now, on_batch=audit_batch)
    return Purge(expired=expired, purged=purged)
