"""The invitation's e-mail and link, and the account of an invited person
(the verbs on members are in organizations.actions)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled

from organizations.models import Invitation, InvitationMessage, hash_token
from outbox import registry
from outbox.mail import ids_by_key, queue
from outbox.models import Message

INVITATION_VALIDITY = dt.timedelta(days=7)


class InvitationUnusable(Exception):
    """The invitation was accepted, cancelled or has expired meanwhile."""


INVITATION = "organizations.member_invitation"


def register_kinds() -> None:
    registry.register(
        INVITATION,
        _render_invitation,
        _("Invitation to the back office"),
        related=("invitation_link__invitation",),
    )


def send_invitation(invitation: Invitation) -> None:
    """Queues the invitation in the caller's transaction, linked to it; the outbox drain
    sends it."""
    key = f"{INVITATION}:{invitation.pk}"
    queue(
        [
            Message(
                organization_id=invitation.organization_id,
                key=key,
                kind=INVITATION,
                address=invitation.email,
            )
        ]
    )
    InvitationMessage.objects.bulk_create(
        [
            InvitationMessage(message_id=message_id, invitation=invitation)
            for message_id in ids_by_key([key]).values()
        ],
        ignore_conflicts=True,
    )


def latest_message_status() -> Subquery:
    """The status of the latest e-mail of each invitation of a queryset (an annotation):
    staff see a refused address where they look."""
    return Subquery(
        Message.objects.filter(invitation_link__invitation=OuterRef("pk"))
        .order_by("-created_at", "-id")
        .values("status")[:1]
    )


def delete_messages(invitations: Any) -> None:
    """Deletes the messages of `invitations` (a queryset), before the invitations go: a
    message names no invitation itself, so none would go with it."""
    Message.objects.filter(
        pk__in=InvitationMessage.objects.filter(invitation__in=invitations).values("message_id")
    ).delete()


def _render_invitation(row: Message) -> EmailMessage | None:
    """The link is minted as the e-mail goes: its token exists in clear in the e-mail only.
    An invitation accepted or expired meanwhile is not sent."""
    link = getattr(row, "invitation_link", None)
    invitation = link.invitation if link is not None else None
    if invitation is None or invitation.accepted_at or invitation.expires_at <= timezone.now():
        return None
    token = secrets.token_urlsafe(32)
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=hash_token(token))
    if row.organization is not None:
        invitation.organization = row.organization
    return invitation_message(invitation, token, settings.SITE_URL)


def invitation_message(invitation: Invitation, token: str, site_url: str) -> EmailMessage:
    """An e-mail with the link to accept, in the organisation's language."""
    path = reverse("invitation_accept", kwargs={"token": token})
    context = {
        "organization": invitation.organization,
        "invitation": invitation,
        "url": site_url + path,
    }
    with translation.override(invitation.organization.default_language):
        subject = render_to_string("organizations/email/invitation_subject.txt", context)
        body = render_to_string("organizations/email/invitation.txt", context)
    # An organisation's name is free text: a line break in it must not break the header.
    return EmailMessage(subject=" ".join(subject.split()), body=body, to=[invitation.email])


def find_invitation(token: str) -> Invitation | None:
    """The pending invitation this link names, whatever its organisation, or None."""
    if not 20 <= len(token) <= 100:
        return None
    # The token names its organisation: looking it up crosses tenants by design.
    with scopes_disabled():
        return (
            Invitation.objects.select_related("organization")
            .filter(
                token_hash=hash_token(token),
                accepted_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .first()
        )


def account_exists(email: str) -> bool:
    User = get_user_model()
    return User.objects.filter(email__iexact=email).exists() or (
        User.objects.filter(username__iexact=email).exists()
    )


def create_account(invitation: Invitation, first_name: str, last_name: str, password: str) -> Any:
    """The account of a person who had none, named by the invited e-mail."""
    User = get_user_model()
    try:
        with transaction.atomic():
            return User.objects.create_user(
                username=invitation.email,
                email=invitation.email,
                first_name=first_name,
                last_name=last_name,
                password=password,
            )
    except IntegrityError:
        # Someone made this account between the page and the post: they log in instead.
        raise InvitationUnusable from None
