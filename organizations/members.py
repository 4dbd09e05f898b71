"""Adding, re-roling and removing the members of an organisation."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext_lazy as _

from organizations.models import Membership, Organization
from outbox import registry
from outbox.mail import queue
from outbox.models import Message


class LastAdmin(Exception):
    """An organisation keeps at least one administrator."""


def add_member(
    organization: Organization, email: str, role: str, first_name: str = "", last_name: str = ""
) -> tuple[Membership, bool]:
    """Adds the person with this e-mail, creating the account if needed.

    Returns the membership and whether the account is new (it then needs a password).
    """
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.filter(email__iexact=email).order_by("pk").first()
        created = user is None
        if created:
            user = User(username=email, email=email, first_name=first_name, last_name=last_name)
            user.set_unusable_password()
            user.save()
        membership = Membership.objects.create(organization=organization, user=user, role=role)
    return membership, created


INVITATION = "organizations.member_invitation"


def register_kinds() -> None:
    registry.register(INVITATION, _render_invitation, _("Invitation to the back office"))


def send_invitation(membership: Membership) -> None:
    """Queues the invitation in the caller's transaction; the outbox drain sends it."""
    queue(
        [
            Message(
                organization_id=membership.organization_id,
                key=f"{INVITATION}:{membership.pk}",
                kind=INVITATION,
                address=membership.user.email,
                membership=membership,
            )
        ]
    )


def _render_invitation(row: Message) -> EmailMessage | None:
    membership = row.membership
    if membership is None:
        return None
    membership.organization = row.organization
    return invitation_message(membership, settings.SITE_URL)


def invitation_message(membership: Membership, site_url: str) -> EmailMessage:
    """An e-mail with a link to choose a password, valid as a password-reset link is."""
    user = membership.user
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {"organization": membership.organization, "user": user, "url": site_url + path}
    with translation.override(membership.organization.default_language):
        subject = render_to_string("organizations/email/invitation_subject.txt", context).strip()
        body = render_to_string("organizations/email/invitation.txt", context)
    return EmailMessage(subject=subject, body=body, to=[user.email])


def _other_admins(membership: Membership) -> int:
    # Locks every admin row of the organisation, so two admins demoting each other at once
    # cannot leave it with none.
    admins = Membership.objects.select_for_update().filter(
        organization_id=membership.organization_id, role=Membership.Role.ADMIN
    )
    return sum(1 for admin in admins if admin.pk != membership.pk)


def change_role(membership: Membership, role: str) -> None:
    with transaction.atomic():
        if membership.is_admin and role != Membership.Role.ADMIN and not _other_admins(membership):
            raise LastAdmin
        Membership.objects.filter(pk=membership.pk).update(role=role)
    membership.role = role


def remove_member(membership: Membership) -> None:
    with transaction.atomic():
        if membership.is_admin and not _other_admins(membership):
            raise LastAdmin
        Membership.objects.filter(pk=membership.pk).delete()
