"""Links belong to a person who must still be a recipient of the dossier.

A link stops working the moment its recipient stops being one: a representative removed
from the company or archived, a contact archived, or a contact whose e-mail changed (the
old address may belong to someone else now). `dossiers.selectors.is_recipient` is checked
on every visit of the portal; the system's `dossiers.actions.revoke_links` deletes the tokens
for good and leaves an audit entry.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django_scopes import scopes_disabled

from dossiers.models import AccessToken
from dossiers.selectors import is_recipient
from organizations.actors import Actor, ActorKind, current_actor
from profiles.models import Profile

# Links go because a person changed: whoever changed them (a member, an API key, an import)
# revokes them; the system only when no action names its actor.
REVOKER = Actor.system("revoke_links")


def _revoker() -> Actor:
    actor = current_actor(REVOKER)
    return actor if actor.kind != ActorKind.CLIENT else REVOKER


RECIPIENT_BEFORE = "_recipient_before"


def _recipient_state(person: Profile) -> tuple[object, ...]:
    return (person.email.strip().lower(), person.company_id, person.is_representative)


@receiver(pre_save, sender=Profile)
def _remember_recipient_state(sender: Any, instance: Profile, **kwargs: Any) -> None:
    if instance.pk is None or instance.kind != "contact":
        return
    with scopes_disabled():
        before = Profile.objects.filter(pk=instance.pk).first()
    # Kept on the instance from pre_save to post_save; Profile does not declare it, being
    # this app's business, so it lives in the instance's own attributes.
    vars(instance)[RECIPIENT_BEFORE] = (
        (_recipient_state(before), before.is_archived) if before is not None else None
    )


@receiver(post_save, sender=Profile)
def _revoke_links_of_a_changed_recipient(sender: Any, instance: Profile, **kwargs: Any) -> None:
    # Imported here: the actions use `dossiers.messages`, which imports this module.
    from dossiers import actions

    before = vars(instance).get(RECIPIENT_BEFORE)
    vars(instance)[RECIPIENT_BEFORE] = None
    if before is None:
        return
    state, was_archived = before
    if state[0] != _recipient_state(instance)[0]:
        # Sent to an address that is no longer this person's: every link goes.
        actions.revoke_links(
            AccessToken.objects.filter(recipient=instance),
            reason="e-mail changed",
            actor=_revoker(),
        )
        return
    if state == _recipient_state(instance) and was_archived == instance.is_archived:
        return
    with scopes_disabled():
        tokens = list(
            AccessToken.objects.filter(recipient=instance).select_related("dossier__profile")
        )
    gone = [t.pk for t in tokens if not is_recipient(t.dossier, instance)]
    if gone:
        actions.revoke_links(
            AccessToken.objects.filter(pk__in=gone),
            reason="no longer a recipient",
            actor=_revoker(),
        )
