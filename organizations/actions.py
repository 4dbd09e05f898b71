"""The organisation's verbs: its settings, its members, and the events of an account.

Each action validates (a `ValidationError` naming the field), writes in one transaction,
records its audit entry through the actor and sends its signal; the pages, the sign-in
signals, the outbox and the management commands parse their input and call it
(DESIGN.md, "Doors, actions and selectors").

An account belongs to no organisation alone: its events (a log-in, a new password, a second
factor) are recorded in each of its organisations, named for the account itself.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scope

from organizations import audit as audit_actions
from organizations.actors import Actor, ActorKind
from organizations.members import INVITATION_VALIDITY, InvitationUnusable, send_invitation
from organizations.models import (
    AuditEntry,
    AuditSubject,
    Invitation,
    Membership,
    Organization,
    hash_token,
)
from organizations.selectors import (
    memberships_of,
    organizations_requiring_two_factor,
    verified_by_second_factor,
)
from organizations.signals import time_zone_changed
from organizations.tenancy import each_in_scope

# The settings an administrator changes, in the order of the page (and of the log's
# "Changed: …").
SETTINGS = ("name", "time_zone", "default_language", "date_style", "require_two_factor")


@dataclass(frozen=True)
class SettingsChange:
    organization: Organization
    # The settings whose value changed, in SETTINGS's order; empty when none did.
    changed: tuple[str, ...]


def update_settings(
    organization: Organization,
    *,
    actor: Actor,
    name: str | None = None,
    time_zone: str | None = None,
    default_language: str | None = None,
    date_style: str | None = None,
    require_two_factor: bool | None = None,
) -> SettingsChange:
    """Saves the settings given (None leaves one as it is); `organization` follows."""
    given: dict[str, object] = {
        key: value
        for key, value in zip(
            SETTINGS,
            (name, time_zone, default_language, date_style, require_two_factor),
            strict=True,
        )
        if value is not None
    }
    with transaction.atomic():
        # Compared with the row, not with the caller's instance, which a form may have set.
        stored = Organization.objects.select_for_update().get(pk=organization.pk)
        changed = tuple(
            key for key in SETTINGS if key in given and getattr(stored, key) != given[key]
        )
        newly_required = "require_two_factor" in changed and bool(require_two_factor)
        for key in changed:
            setattr(stored, key, given[key])
        _validate_settings(stored, given, actor=actor, newly_required=newly_required)
        if changed:
            stored.save(update_fields=list(changed))
            # Schedules are local dates: their UTC moments move with the time zone, together.
            if "time_zone" in changed:
                time_zone_changed.send(sender=Organization, organization=stored)
        actor.audit(stored, audit_actions.SETTINGS_UPDATED, stored, changed=", ".join(changed))
    for key in SETTINGS:
        setattr(organization, key, getattr(stored, key))
    return SettingsChange(organization=organization, changed=changed)


def _validate_settings(
    organization: Organization, given: dict[str, object], *, actor: Actor, newly_required: bool
) -> None:
    errors: dict[str, list[str]] = {}
    try:
        organization.full_clean(
            exclude=[f.name for f in Organization._meta.fields if f.name not in given],
            validate_unique=False,
        )
    except ValidationError as error:
        errors.update(error.message_dict)
    # The name goes into e-mail subjects, where a line break would break the header.
    if "name" in given and any(unicodedata.category(ch)[0] == "C" for ch in organization.name):
        errors.setdefault("name", []).append(
            str(_("The name cannot contain line breaks or control characters."))
        )
    # The member who turns it on must already use one, or they lock themselves out.
    locks_out = actor.kind == ActorKind.MEMBER and not verified_by_second_factor(actor.user)
    if newly_required and locks_out:
        errors.setdefault("require_two_factor", []).append(
            str(_("Turn on your own second factor first (Two-factor, at the top of the page)."))
        )
    if errors:
        raise ValidationError(errors)


# Members and invitations.


def invite_member(
    organization: Organization,
    *,
    actor: Actor,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
) -> Invitation:
    """A new invitation, its e-mail queued in the same transaction.

    Whether an account with this e-mail exists plays no part: the answer, the e-mail and the
    audit entry are the same either way. An older pending invitation to the same address is
    replaced, so only the latest link works.
    """
    email = email.strip().lower()
    if role not in Membership.Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": _("This person is already a member.")})
    with transaction.atomic():
        Invitation.objects.filter(
            organization=organization, email__iexact=email, accepted_at__isnull=True
        ).delete()
        invitation = Invitation.objects.create(
            organization=organization,
            email=email,
            role=role,
            first_name=first_name,
            last_name=last_name,
            # A placeholder: the link's token is minted as the e-mail goes (members.py).
            token_hash=hash_token(secrets.token_urlsafe(32)),
            invited_by=actor.member_user,
            expires_at=timezone.now() + INVITATION_VALIDITY,
        )
        actor.audit(
            organization, audit_actions.MEMBER_INVITED, email, role=invitation.get_role_display()
        )
        # An outbox row written with the invitation: SMTP down only delays it.
        send_invitation(invitation)
    return invitation


def cancel_invitation(invitation: Invitation, *, actor: Actor) -> Invitation:
    """Deletes a pending invitation: its link stops working and its e-mail is not sent."""
    with transaction.atomic():
        deleted, _by_model = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True
        ).delete()
        if not deleted:
            raise InvitationUnusable
        actor.audit(invitation.organization, audit_actions.INVITATION_CANCELLED, invitation.email)
    return invitation


def accept_invitation(invitation: Invitation, *, actor: Actor) -> Membership:
    """Makes the actor, signed in to the invited account, a member with the invited role.

    The invitation names its organisation: the action enters that organisation's scope.
    """
    user = actor.member_user
    if actor.kind != ActorKind.MEMBER or not addressed_to(invitation, user):
        raise InvitationUnusable
    organization = invitation.organization
    with scope(organization=organization), transaction.atomic():
        # A conditional UPDATE: of two clicks at once, one claims the invitation.
        now = timezone.now()
        claimed = Invitation.objects.filter(
            pk=invitation.pk, accepted_at__isnull=True, expires_at__gt=now
        ).update(accepted_at=now)
        if claimed != 1:
            raise InvitationUnusable
        membership, _created = Membership.objects.get_or_create(
            organization=organization, user=user, defaults={"role": invitation.role}
        )
        actor.audit(
            organization,
            audit_actions.MEMBER_ADDED,
            invitation.email,
            about=[user],
            role=membership.get_role_display(),
        )
    return membership


def addressed_to(invitation: Invitation, user: Any) -> bool:
    """Whether the account is the one invited: an admin never attaches someone else's."""
    email = str(getattr(user, "email", "") or "")
    return email.lower() == invitation.email.lower()


def change_role(membership: Membership, *, actor: Actor, role: str) -> Membership:
    """Gives a member another role; the organisation keeps at least one administrator."""
    if role not in Membership.Role.values:
        raise ValidationError({"role": _("Choose a role.")})
    with transaction.atomic():
        current = _locked(membership)
        if current.is_admin and role != Membership.Role.ADMIN and not _other_admins(current):
            raise ValidationError({"role": _needs_an_administrator()})
        Membership.objects.filter(pk=current.pk).update(role=role)
        membership.role = role
        actor.audit(
            current.organization,
            audit_actions.MEMBER_ROLE_CHANGED,
            membership.user.email,
            about=[membership.user],
            role=membership.get_role_display(),
        )
    return membership


def remove_member(membership: Membership, *, actor: Actor) -> Membership:
    """Removes a member; the organisation keeps at least one administrator."""
    with transaction.atomic():
        current = _locked(membership)
        if current.is_admin and not _other_admins(current):
            raise ValidationError({NON_FIELD_ERRORS: _needs_an_administrator()})
        Membership.objects.filter(pk=current.pk).delete()
        actor.audit(
            current.organization,
            audit_actions.MEMBER_REMOVED,
            membership.user.email,
            about=[membership.user],
        )
    return membership


def _needs_an_administrator() -> str:
    return str(_("The organisation needs at least one administrator."))


def _locked(membership: Membership) -> Membership:
    # Through the scoped manager: another organisation's member is not found.
    return (
        Membership.objects.select_for_update().select_related("organization").get(pk=membership.pk)
    )


def _other_admins(membership: Membership) -> int:
    # Locks every admin row of the organisation, so two admins demoting each other at once
    # cannot leave it with none.
    admins = Membership.objects.select_for_update().filter(
        organization_id=membership.organization_id, role=Membership.Role.ADMIN
    )
    return sum(1 for admin in admins if admin.pk != membership.pk)


# The audit log.


def export_audit_log(
    organization: Organization, *, actor: Actor, entries: QuerySet[AuditEntry], filters: str
) -> QuerySet[AuditEntry]:
    """The organisation's entries, filtered by the caller, for an export; reading them out
    is itself recorded, with the filters as the reader chose them."""
    actor.audit(organization, audit_actions.AUDIT_EXPORTED, organization, filters=filters)
    return entries.filter(organization=organization).select_related("user")


def redact_entries(
    organization: Organization, *, entries: QuerySet[AuditEntry], actor: Actor
) -> int:
    """Blanks the personal part of these entries (an erasure's): their object, details,
    subjects and, where a client acted, the client's name; their digest stays in the chain.
    A redaction record names the positions blanked, so the log can tell an erasure from a
    tampering. Returns how many entries were blanked."""
    with transaction.atomic():
        ids, seqs = [], []
        for pk, seq in entries.filter(redacted_at__isnull=True).values_list("pk", "seq"):
            ids.append(pk)
            if seq is not None:
                seqs.append(seq)
        if not ids:
            return 0
        AuditSubject.objects.filter(entry_id__in=ids).delete()
        blanked = AuditEntry.objects.filter(pk__in=ids)
        blanked.filter(actor=AuditEntry.Actor.CLIENT).update(actor_name="", actor_ref="")
        blanked.update(target="—", details={}, salt="", redacted_at=timezone.now())
        actor.audit(
            organization,
            audit_actions.AUDIT_REDACTED,
            organization,
            entries=", ".join(str(seq) for seq in sorted(seqs)),
            count=len(ids),
        )
    return len(ids)


# The events of an account, recorded in each of its organisations.


def record_login(user: Any, *, address: str) -> list[AuditEntry]:
    return _record_for_account(user, audit_actions.LOGIN, address=address)


def record_login_failure(user: Any, *, address: str, step: str = "") -> list[AuditEntry]:
    """A wrong password or second-factor code for this account (`step` says which)."""
    details: dict[str, object] = {"step": step} if step else {}
    return _record_for_account(user, audit_actions.LOGIN_FAILED, None, address=address, **details)


def record_password_reset_request(user: Any) -> list[AuditEntry]:
    """A link to choose a new password went to the account's address."""
    return _record_for_account(user, audit_actions.PASSWORD_RESET_REQUESTED)


def record_password_change(user: Any) -> list[AuditEntry]:
    """The account's owner chose a new password through the link."""
    return _record_for_account(user, audit_actions.PASSWORD_CHANGED)


def set_up_two_factor(device: TOTPDevice, *, actor: Actor) -> TOTPDevice:
    """Confirms the actor's new device, whose code the caller has checked."""
    if actor.member_user is None or device.user_id != actor.member_user.pk:
        raise ValueError("a member sets up their own second factor")
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        _record_for_account(device.user, audit_actions.TWO_FACTOR_ENABLED, actor)
    return device


def remove_two_factor(user: Any, *, actor: Actor) -> int:
    """Removes the account's second factor, unless one of its organisations requires it."""
    required_by = organizations_requiring_two_factor(user)
    if required_by:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: _("%(names)s require a second factor: it cannot be turned off.")
                % {"names": ", ".join(required_by)}
            }
        )
    return _remove_devices(user, actor=actor)


def reset_two_factor(user: Any, *, actor: Actor) -> int:
    """For someone who lost their phone: the devices go whatever the organisations require,
    and the next log-in sends them to set up a new one."""
    return _remove_devices(user, actor=actor, by="reset_two_factor")


def _remove_devices(user: Any, *, actor: Actor, **details: object) -> int:
    with transaction.atomic():
        removed, _by_model = TOTPDevice.objects.filter(user=user).delete()
        if removed:
            _record_for_account(user, audit_actions.TWO_FACTOR_DISABLED, actor, **details)
    return int(removed)


def _record_for_account(
    user: Any, action: str, actor: Actor | None = None, /, **details: object
) -> list[AuditEntry]:
    # Without another actor, the account's own event is the account's doing.
    actor = actor or Actor.member(user)
    target = user.get_username()
    # In the order of the organisations: each entry locks its organisation's chain until the
    # transaction ends, and two accounts' events taking them in opposite orders would deadlock.
    memberships = sorted(memberships_of(user), key=lambda membership: membership.organization_id)
    return [
        actor.audit(membership.organization, action, target, about=[user], **details)
        for membership in each_in_scope(memberships)
    ]
