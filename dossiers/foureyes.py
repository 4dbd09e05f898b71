"""Four eyes on where a link goes: whoever sent a dossier's link again, or changed the
contact data of the person who answered it, does not decide on its answers.

The attack this closes: a member sets a client's e-mail to their own, sends the link again
(or waits for a reminder), answers with a fake document and approves it alone. The link
records the address it was e-mailed to (`AccessToken.sent_to`), each answer the address of
the link it came through (`answered_via`), and each such intervention is an `Intervention`
row. A decider is refused when they:

- sent this dossier's link again (`resend_link`), at any time of its life;
- changed the e-mail, company or representation of the person who answered, during the
  dossier's life;
- set, at any time, the address the answers' link went to (the change may come before the
  dossier opens: a scheduled dossier then goes to the address they chose).

An API key is its creator's hand: what a key did counts as the member's, and the other way
round.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Q

from dossiers.models import Dossier, DossierItem, Intervention
from organizations.actors import Actor, ActorKind
from profiles.models import Kind, Profile

# A contact's identity fields that decide whether and where they receive a dossier's link.
RECIPIENT_FIELDS = frozenset({"email", "company", "is_representative"})


def _who(actor: Actor) -> dict[str, Any] | None:
    if actor.kind == ActorKind.MEMBER:
        return {"user": actor.user}
    if actor.kind == ActorKind.API_KEY:
        # A key stands for the member who created it: else that member and their key would
        # count as two people, one changing the address and the other approving.
        return {"api_key_id": actor.api_key.pk, "user_id": actor.api_key.created_by_id}
    return None


def record_link_sent(dossier: Dossier, *, actor: Actor) -> None:
    who = _who(actor)
    if who is not None:
        Intervention.objects.create(
            organization_id=dossier.organization_id,
            kind=Intervention.Kind.LINK_SENT,
            dossier=dossier,
            **who,
        )


def record_contact_change(
    sender: Any, *, profile: Profile, actor: Actor, changed: Iterable[str], **kwargs: Any
) -> None:
    """Receives profiles.signals.identity_changed, in the change's transaction."""
    if profile.kind != Kind.CONTACT or not RECIPIENT_FIELDS.intersection(changed):
        return
    who = _who(actor)
    if who is not None:
        Intervention.objects.create(
            organization_id=profile.organization_id,
            kind=Intervention.Kind.CONTACT_CHANGED,
            person=profile,
            email=profile.email.strip().lower(),
            **who,
        )


def record_contact_changes(
    sender: Any,
    *,
    organization_id: int,
    actor: Actor,
    changes: Iterable[tuple[Profile, Iterable[str]]],
    **kwargs: Any,
) -> None:
    """Receives profiles.signals.identities_imported: one row per contact whose e-mail,
    company or representation an import (or the API's upsert) set, in one INSERT."""
    who = _who(actor)
    if who is None:
        return
    Intervention.objects.bulk_create(
        [
            Intervention(
                organization_id=organization_id,
                kind=Intervention.Kind.CONTACT_CHANGED,
                person=profile,
                email=profile.email.strip().lower(),
                **who,
            )
            for profile, changed in changes
            if profile.kind == Kind.CONTACT and RECIPIENT_FIELDS.intersection(changed)
        ],
        batch_size=2000,
    )


def involved(dossier: Dossier, items: Iterable[DossierItem], *, user: Any, api_key: Any) -> bool:
    """Whether this decider had a hand in where the answers of `items` came from."""
    if user is None and api_key is None:
        return False
    items = list(items)
    people = {item.answered_by_id for item in items if item.answered_by_id is not None}
    addresses = {item.answered_via.strip().lower() for item in items if item.answered_via}
    concerns = Q(kind=Intervention.Kind.LINK_SENT, dossier=dossier)
    if people:
        concerns |= Q(
            kind=Intervention.Kind.CONTACT_CHANGED,
            person_id__in=people,
            at__gte=dossier.created_at,
        )
    if addresses:
        concerns |= Q(kind=Intervention.Kind.CONTACT_CHANGED, email__in=addresses)
    # Through a key (recorded with its creator) or in person, one member is one pair of eyes.
    if user is not None:
        who = Q(user=user)
    else:
        who = Q(api_key_id=api_key.pk)
        if api_key.created_by_id is not None:
            who |= Q(user_id=api_key.created_by_id)
    return (
        Intervention.objects.filter(organization_id=dossier.organization_id)
        .filter(who)
        .filter(concerns)
        .exists()
    )
