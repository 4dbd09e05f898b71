"""Celery tasks of dossiers. Each takes ids, loads inside, and may run twice without harm."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dossiers import emails, retention
from dossiers.models import Dossier
from organizations.models import Membership

logger = logging.getLogger(__name__)
REMINDER_BEFORE = dt.timedelta(days=7)


@shared_task(acks_late=True)
def send_invitations(dossier_ids: list[int]) -> int:
    sent = 0
    with scopes_disabled():
        dossiers = list(
            Dossier.objects.filter(pk__in=dossier_ids, invited_at__isnull=True)
            .select_related("organization", "profile")
            .order_by("id")
        )
    for dossier in dossiers:
        with scope(organization=dossier.organization):
            # Claim first, so a second worker on the same ids sends nothing twice.
            claimed = Dossier.objects.filter(pk=dossier.pk, invited_at__isnull=True).update(
                invited_at=timezone.now()
            )
            if not claimed or not dossier.is_open:
                continue
            with transaction.atomic():
                messages = emails.link_messages(dossier, "invitation")
            try:
                sent += emails.send_all(messages)
            except Exception:
                # Unclaim, so that the sweep tries again later.
                Dossier.objects.filter(pk=dossier.pk).update(invited_at=None)
                raise
    return sent


@shared_task(acks_late=True)
def send_submission_notices(dossier_id: int) -> int:
    """Thanks the client who submitted (not when staff did it for them) and tells staff."""
    with scopes_disabled():
        dossier = (
            Dossier.objects.filter(pk=dossier_id, notified_at__isnull=True)
            .select_related("organization", "profile", "submitted_by")
            .first()
        )
    if dossier is None:
        return 0
    with scope(organization=dossier.organization):
        if not Dossier.objects.filter(pk=dossier.pk, notified_at__isnull=True).update(
            notified_at=timezone.now()
        ):
            return 0
        staff = [
            (m.user.email, dossier.organization.default_language)
            for m in Membership.objects.filter(
                organization=dossier.organization, role=Membership.Role.ADMIN
            ).select_related("user")
            if m.user.email
        ]
        creator = dossier.created_by
        if creator and creator.email and all(email != creator.email for email, _ in staff):
            staff.append((creator.email, dossier.organization.default_language))
        try:
            return emails.send_all(
                emails.submission_messages(
                    dossier,
                    dossier.submitted_by,
                    staff,
                    thank_client=dossier.submitted_by_user_id is None,
                )
            )
        except Exception:
            Dossier.objects.filter(pk=dossier.pk).update(notified_at=None)
            raise


@shared_task(acks_late=True)
def send_changes_requested(dossier_id: int) -> int:
    """Tells the recipients which answers staff sent back, each with a fresh link."""
    with scopes_disabled():
        dossier = (
            Dossier.objects.filter(
                pk=dossier_id,
                status=Dossier.Status.CHANGES_REQUESTED,
                changes_notified_at__isnull=True,
            )
            .select_related("organization", "profile")
            .first()
        )
    if dossier is None:
        return 0
    with scope(organization=dossier.organization):
        # Claim first, so a second worker on the same dossier sends nothing twice.
        if not Dossier.objects.filter(pk=dossier.pk, changes_notified_at__isnull=True).update(
            changes_notified_at=timezone.now()
        ):
            return 0
        with transaction.atomic():
            messages = emails.link_messages(dossier, "changes_requested")
        try:
            return emails.send_all(messages)
        except Exception:
            # Unclaim, so that sweep_notifications tries again later.
            Dossier.objects.filter(pk=dossier.pk).update(changes_notified_at=None)
            raise


@shared_task
def send_reminders() -> int:
    now = timezone.now()
    sent = 0
    with scopes_disabled():
        due = list(
            Dossier.objects.filter(
                status__in=Dossier.OPEN_STATUSES,
                invited_at__isnull=False,
                reminded_at__isnull=True,
                expires_at__gt=now,
                expires_at__lte=now + REMINDER_BEFORE,
            ).select_related("organization", "profile")[:1000]
        )
    for dossier in due:
        with scope(organization=dossier.organization):
            if Dossier.objects.filter(pk=dossier.pk, reminded_at__isnull=True).update(
                reminded_at=now
            ):
                sent += emails.send_all(emails.link_messages(dossier, "reminder"))
    return sent


@shared_task
def sweep_notifications() -> None:
    """The outbox: e-mails that could not be enqueued (broker down) go out from here."""
    settle = timezone.now() - dt.timedelta(minutes=2)
    with scopes_disabled():
        uninvited = list(
            Dossier.objects.filter(
                invited_at__isnull=True,
                status__in=Dossier.OPEN_STATUSES,
                created_at__lte=settle,
            ).values_list("id", flat=True)[:5000]
        )
        unnotified = list(
            Dossier.objects.filter(
                status__in=(Dossier.Status.SUBMITTED, Dossier.Status.TO_REVIEW),
                notified_at__isnull=True,
                submitted_at__lte=settle,
            ).values_list("id", flat=True)[:1000]
        )
        changes_untold = list(
            Dossier.objects.filter(
                status=Dossier.Status.CHANGES_REQUESTED,
                changes_notified_at__isnull=True,
            ).values_list("id", flat=True)[:1000]
        )
    for start in range(0, len(uninvited), 500):
        send_invitations.delay(uninvited[start : start + 500])
    for dossier_id in unnotified:
        send_submission_notices.delay(dossier_id)
    for dossier_id in changes_untold:
        send_changes_requested.delay(dossier_id)


@shared_task
def purge_dossiers() -> int:
    with scopes_disabled():
        retention.expire_dossiers()
        return retention.purge_dossiers()
