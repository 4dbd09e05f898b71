"""Retention: expiring overdue dossiers, purging old update dossiers and their files."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from dossiers import daily
from dossiers.messages import delete_messages
from dossiers.models import (
    AccessToken,
    DailyRequest,
    Dossier,
    DossierItem,
    DossierMessage,
    DossierRecord,
    ItemRejection,
)
from dossiers.opening import UPDATE_DOSSIER_LIFETIME
from dossiers.signals import requests_changed
from outbox.models import Message
from profiles.storage import forget


def purge_dossiers(
    now: dt.datetime | None = None,
    batch_size: int = 500,
    *,
    on_batch: Callable[[Counter[int]], None] | None = None,
) -> int:
    """Deletes update dossiers a month after their creation, and their unclaimed uploads.

    Documents written back belong to the profile and stay. A DossierRecord keeps, for audit,
    who was asked, when and what came of it, and no uploaded content. Crosses tenants: the
    caller runs it with scopes disabled. `on_batch` is told, inside each batch's transaction,
    how many dossiers it purged per organisation id (the action audits there).
    """
    now = now or timezone.now()
    cutoff = now - UPDATE_DOSSIER_LIFETIME
    purged = 0
    while True:
        with transaction.atomic():
            # Awaiting a decision, a dossier stays; decided, it stays a month from then.
            batch = list(
                Dossier.objects.filter(kind=Dossier.Kind.UPDATE, created_at__lte=cutoff)
                .exclude(status__in=Dossier.AWAITING_DECISION)
                .filter(Q(decided_at__isnull=True) | Q(decided_at__lte=cutoff))
                .select_related("profile")
                .order_by("id")[:batch_size]
            )
            if not batch:
                break
            ids = [d.pk for d in batch]
            keys = list(
                DossierItem.objects.filter(dossier_id__in=ids)
                .exclude(upload="")
                .values_list("upload", flat=True)
            ) + list(
                ItemRejection.objects.filter(item__dossier_id__in=ids)
                .exclude(upload="")
                .values_list("upload", flat=True)
            )
            labels: dict[int, list[str]] = {}
            for dossier_id, label in DossierItem.objects.filter(dossier_id__in=ids).values_list(
                "dossier_id", "field__label"
            ):
                labels.setdefault(dossier_id, []).append(label)
            # By reference, never by name: a representative erased later leaves the company's
            # records with their profile.
            recipients: dict[int, set[int]] = {}
            for dossier_id, recipient_id in AccessToken.objects.filter(
                dossier_id__in=ids
            ).values_list("dossier_id", "recipient_id"):
                recipients.setdefault(dossier_id, set()).add(recipient_id)
            refused = dict(
                DossierMessage.objects.filter(
                    dossier_id__in=ids, message__status=Message.Status.UNDELIVERABLE
                )
                .values_list("dossier_id")
                .annotate(n=Count("message_id"))
                .order_by()
            )
            DossierRecord.objects.bulk_create(
                [
                    DossierRecord(
                        organization_id=d.organization_id,
                        profile_id=d.profile_id,
                        dossier_uuid=d.uuid,
                        kind=d.kind,
                        title=d.title,
                        fields=labels.get(d.pk, []),
                        outcome=Dossier.Status.EXPIRED if d.is_expired else d.status,
                        update_group_id=d.update_group_id,
                        period=d.period,
                        first_opened_at=d.first_opened_at,
                        undeliverable=refused.get(d.pk, 0),
                        created_at=d.created_at,
                        expires_at=d.expires_at,
                        submitted_at=d.submitted_at,
                        purged_at=now,
                    )
                    for d in batch
                ],
                ignore_conflicts=True,
            )
            _link_recipients(
                {d.uuid: recipients.get(d.pk, set()) for d in batch if recipients.get(d.pk)}
            )
            Dossier.objects.filter(superseded_by_id__in=ids).update(superseded_by=None)
            # Storage is not transactional: the files are recorded for deletion with the rows'
            # deletion, and deleted once it commits (or by the sweep, if storage is down).
            forget(keys)
            delete_messages(Q(dossier_id__in=ids))
            requests_of_day = list(
                DailyRequest.objects.filter(dossiers__in=ids).values_list("pk", flat=True)
            )
            Dossier.objects.filter(pk__in=ids).delete()
            # A request of the day left with no dossier goes, with its e-mails.
            daily.delete_messages(Q(pk__in=requests_of_day, dossiers__isnull=True))
            _requests_changed((d.organization_id, d.profile_id) for d in batch)
            if on_batch is not None:
                on_batch(Counter(d.organization_id for d in batch))
        purged += len(batch)
    return purged


def _link_recipients(by_uuid: dict[object, set[int]]) -> None:
    if not by_uuid:
        return
    through = DossierRecord.recipient_profiles.through
    records = DossierRecord.objects.filter(dossier_uuid__in=list(by_uuid)).values_list(
        "pk", "dossier_uuid"
    )
    through.objects.bulk_create(
        [
            through(dossierrecord_id=pk, profile_id=profile_id)
            for pk, dossier_uuid in records
            for profile_id in sorted(by_uuid[dossier_uuid])
        ],
        ignore_conflicts=True,
    )


def expire_dossiers(now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    overdue = Dossier.objects.lapsed(now)
    with transaction.atomic():
        whose = list(overdue.values_list("organization_id", "profile_id"))
        # Sent back after review, a dossier's month for the record starts when it ends.
        expired = overdue.filter(status=Dossier.Status.CHANGES_REQUESTED).update(
            status=Dossier.Status.EXPIRED, decided_at=now
        ) + overdue.update(status=Dossier.Status.EXPIRED)
        _requests_changed(whose)
    return expired


def _requests_changed(whose: Iterable[tuple[int, int | None]]) -> None:
    """Tells the listeners which profiles' requests moved, organisation by organisation."""
    by_organization: dict[int, set[int]] = {}
    for organization_id, profile_id in whose:
        if profile_id is not None:
            by_organization.setdefault(organization_id, set()).add(profile_id)
    for organization_id, profile_ids in by_organization.items():
        requests_changed.send(
            sender=Dossier, organization_id=organization_id, profile_ids=sorted(profile_ids)
        )
