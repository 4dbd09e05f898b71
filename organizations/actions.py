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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from django_scopes import scope

from organizations import audit as audit_actions
from organizations import sso
from organizations.actors import Actor, ActorKind
from organizations.members import (
    INVITATION_VALIDITY,
    InvitationUnusable,
    delete_messages,
    send_invitation,
)
from organizations.models import (
    AuditEntry,
    AuditSubject,
    Invitation,
    Membership,
    Organization,
    SsoProvider,
    hash_token,
)
from organizations.selectors import (
    memberships_of,
    organizations_requiring_two_factor,
    passkeys_of,
    verified_by_second_factor,
)
from organizations.signals import member_removed, time_zone_changed
from organizations.tenancy import each_in_scope
from outbox import selectors as outbox_selectors
from outbox.models import FailingAddress

# The settings an administrator changes, in the order of the page (and of the log's
# "Changed: …").
SETTINGS = (
    "name",
    "time_zone",
    "default_language",
    "date_style",
    "require_two_factor",
    "contact_email",
)


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
    contact_email: str | None = None,
) -> SettingsChange:
    """Saves the settings given (None leaves one as it is); `organization` follows."""
    if contact_email is not None:
        contact_email = contact_email.strip()
    given: dict[str, object] = {
        key: value
        for key, value in zip(
            SETTINGS,
            (name, time_zone, default_language, date_style, require_two_factor, contact_email),
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
        replaced = Invitation.objects.filter(
            organization=organization, email__iexact=email, accepted_at__isnull=True
        )
        delete_messages(replaced)
        replaced.delete()
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
        pending = Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True)
        # Its e-mail goes first, unsent or not: the link it carries stops working.
        delete_messages(pending)
        deleted, _by_model = pending.delete()
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
        member_removed.send(
            Membership, organization=current.organization, user=membership.user, actor=actor
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


def record_login(user: Any, *, address: str, method: str = "") -> list[AuditEntry]:
    """A log-in; `method` "passkey" for a passkey alone, without a password."""
    details: dict[str, object] = {"method": method} if method else {}
    return _record_for_account(user, audit_actions.LOGIN, None, address=address, **details)


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
    # A passkey left is a second factor still there.
    if required_by and not passkeys_of(user):
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
    with transaction.atomic():
        # Passkeys too: a lost laptop holds them as a lost phone holds the app.
        passkeys = _remove_passkeys(passkeys_of(user), actor=actor, by="reset_two_factor")
        return passkeys + _remove_devices(user, actor=actor, by="reset_two_factor")


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


# Passkeys: WebAuthn credentials (django-otp-webauthn), each a django-otp device.

PASSKEY_NAME_MAX_LENGTH = 64


def clean_passkey_name(name: str) -> str:
    """The name people gave a passkey, on one line; a `ValidationError` on `name` otherwise."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": _("Give the passkey a name, such as “Work laptop”.")})
    if len(name) > PASSKEY_NAME_MAX_LENGTH:
        raise ValidationError(
            {"name": _("At most %(count)d characters.") % {"count": PASSKEY_NAME_MAX_LENGTH}}
        )
    if any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise ValidationError({"name": _("The name cannot contain control characters.")})
    return name


def add_passkey(
    *, actor: Actor, name: str, verify: Callable[[Any], WebAuthnCredential]
) -> WebAuthnCredential:
    """Saves, under `name`, the passkey that `verify` checks against the ceremony's challenge
    and creates for the actor's account (the library's registration), all or nothing."""
    user = actor.member_user
    if actor.kind != ActorKind.MEMBER or user is None:
        raise ValueError("a member adds their own passkey")
    name = clean_passkey_name(name)
    with transaction.atomic():
        credential = verify(user)
        if credential.user_id != user.pk:
            raise ValueError("the passkey belongs to another account")
        credential.name = name
        credential.save(update_fields=["name"])
        _record_for_account(user, audit_actions.PASSKEY_ADDED, actor, name=name)
    return credential


def remove_passkey(credential: WebAuthnCredential, *, actor: Actor) -> WebAuthnCredential:
    """Removes one of the actor's passkeys, unless it is their last second factor and one of
    their organisations requires one."""
    user = actor.member_user
    if actor.kind != ActorKind.MEMBER or user is None or credential.user_id != user.pk:
        raise ValueError("a member removes their own passkey")
    with transaction.atomic():
        # The account's row, locked: two removals at once cannot leave it without a factor
        # that an organisation requires.
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        others = WebAuthnCredential.objects.filter(user=user).exclude(pk=credential.pk)
        required_by = organizations_requiring_two_factor(user)
        has_app = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        if required_by and not has_app and not others.exists():
            raise ValidationError(
                {
                    NON_FIELD_ERRORS: _(
                        "%(names)s require a second factor: add another passkey or an "
                        "authenticator app before removing this one."
                    )
                    % {"names": ", ".join(required_by)}
                }
            )
        _remove_passkeys([credential], actor=actor)
    return credential


def _remove_passkeys(
    credentials: list[WebAuthnCredential], *, actor: Actor, **details: object
) -> int:
    removed = 0
    with transaction.atomic():
        for credential in credentials:
            deleted, _by_model = WebAuthnCredential.objects.filter(pk=credential.pk).delete()
            if deleted:
                removed += 1
                _record_for_account(
                    credential.user,
                    audit_actions.PASSKEY_REMOVED,
                    actor,
                    name=credential.name,
                    **details,
                )
    return removed


# Single sign-on (organizations.sso).

# The provider's settings an administrator changes, in the order of the page.
SSO_SETTINGS = (
    "discovery_url",
    "client_id",
    "client_secret",
    "enforces_second_factor",
    "require_sso",
)


def configure_sso(
    organization: Organization,
    *,
    actor: Actor,
    discovery_url: str,
    client_id: str,
    client_secret: str = "",
    enforces_second_factor: bool = False,
    require_sso: bool = False,
    signed_in_through_it: bool = False,
) -> SsoProvider:
    """Names (or changes) the organisation's OpenID Connect provider. The discovery document
    is read first, outside the transaction; an empty `client_secret` keeps the one on file.
    Requiring the provider asks that the administrator has just signed in through it
    (`signed_in_through_it`), so that nobody locks the organisation out with a typo."""
    errors: dict[str, list[str]] = {}
    discovery_url, client_id = discovery_url.strip(), client_id.strip()
    existing = SsoProvider.objects.filter(organization=organization).first()
    if not client_id:
        errors.setdefault("client_id", []).append(str(_("This field is required.")))
    if not client_secret and existing is None:
        errors.setdefault("client_secret", []).append(str(_("This field is required.")))
    metadata: dict[str, Any] = {}
    try:
        metadata = sso.read_discovery(discovery_url)
    except sso.SsoRefused as refusal:
        errors.setdefault("discovery_url", []).append(refusal.message)
    same_provider = existing is not None and (
        existing.discovery_url == discovery_url and existing.client_id == client_id
    )
    # Requiring the provider takes one that is saved as it is and that this administrator
    # has just signed in through (or that was already required).
    if require_sso and not (
        same_provider and existing is not None and (signed_in_through_it or existing.require_sso)
    ):
        errors.setdefault("require_sso", []).append(
            str(
                _(
                    "Save the provider, sign in through it once (“Sign in through it now”, "
                    "above the form), then require it: a mistake here would lock every "
                    "member out."
                )
            )
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        provider = existing or SsoProvider(organization=organization)
        before = {
            key: getattr(provider, key, None) for key in SSO_SETTINGS if key != "client_secret"
        }
        provider.discovery_url = discovery_url
        provider.client_id = client_id
        if client_secret:
            provider.client_secret_sealed = sso.seal(client_secret)
        provider.enforces_second_factor = enforces_second_factor
        provider.require_sso = require_sso
        provider.metadata = metadata
        provider.save()
        changed = [
            key
            for key in SSO_SETTINGS
            if (key == "client_secret" and client_secret)
            or (
                key != "client_secret"
                and (existing is None or before[key] != getattr(provider, key))
            )
        ]
        # The secret is named among the changes, never recorded.
        actor.audit(
            organization,
            audit_actions.SSO_CONFIGURED,
            provider,
            changed=changed,
        )
    return provider


def remove_sso(organization: Organization, *, actor: Actor) -> None:
    """Forgets the provider: members sign in with their passwords again."""
    with transaction.atomic():
        provider = SsoProvider.objects.select_for_update().filter(organization=organization).first()
        if provider is None:
            return
        name = str(provider)
        provider.delete()
        actor.audit(organization, audit_actions.SSO_REMOVED, name)


def record_sso_sign_in(
    provider: SsoProvider, user: Any, *, address: str, second_factor: str, subject: str
) -> AuditEntry:
    """A member signed in to the organisation through its provider; `second_factor` says
    what stood for it: the provider's ("provider"), their code ("code") or none; `subject`
    is the provider's identifier of the person (the ID token's `sub`)."""
    with scope(organization=provider.organization):
        return Actor.member(user).audit(
            provider.organization,
            audit_actions.SSO_SIGNED_IN,
            user.get_username(),
            address=address,
            second_factor=second_factor,
            subject=subject,
        )


def record_sso_refusal(
    organization: Organization, *, reason: str, address: str, email: str = ""
) -> AuditEntry:
    """A sign-in through the organisation's provider that was refused, and why."""
    with scope(organization=organization):
        return Actor.system("sso").audit(
            organization,
            audit_actions.SSO_REFUSED,
            email or "—",
            reason=reason,
            address=address,
        )


# E-mail addresses.


def retry_address(
    organization: Organization, *, actor: Actor, address: str, confirmed: bool = False
) -> FailingAddress:
    """Staff say to try a failing address again: the outbox sends to it from the next
    message on. After a complaint (the client reported an e-mail as spam) only when
    `confirmed`, the member saying that the client asked for e-mails again. Returns what
    the address was failing for."""
    if actor.kind != ActorKind.MEMBER:
        raise ValidationError(_("Only a member of staff can say to try an address again."))
    found = outbox_selectors.failing(organization.pk, address)
    if found is None:
        raise ValidationError({"address": _("This address is not failing: nothing to do.")})
    if found.complained and not confirmed:
        raise ValidationError(
            {
                "confirmed": _(
                    "This client reported one of our e-mails as spam: confirm that they asked "
                    "to receive them again."
                )
            }
        )
    with transaction.atomic():
        FailingAddress.objects.filter(pk=found.pk).delete()
        actor.audit(
            organization,
            audit_actions.ADDRESS_RETRIED,
            found.address,
            reason=found.reason,
        )
    return found
