"""One request per client per day: the update requests that fall due for one recipient on
one local day reach them as one e-mail with one link (`DailyRequest`).

Every dossier keeps its own invitation (and reminders) in the outbox, linked to it as
before: its follow-up, its four eyes and its reminder ladder read them. When the drain
comes to the first invitation of a recipient's day and finds others of the same day still
waiting, it forms the day's request of those dossiers and queues its one e-mail; each
invitation of the day is then carried by that e-mail (`outbox.registry.Carried`) and takes
its outcome, so nothing is lost and nothing goes twice. A request opened after the day's
e-mail was formed goes out on its own. The fan-out holds its invitations back a few minutes
(`DOSSIERS_DAILY_SETTLE_SECONDS`) so that the day's groups are all opened by then.

A ladder reminder of a dossier of the day's request is carried the same way by one
reminder of the request a day, which lists its dossiers still open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace

from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django_scopes import scopes_disabled

from dossiers import emails
from dossiers.models import (
    AccessToken,
    DailyRequest,
    DailyRequestMessage,
    Dossier,
    DossierMessage,
    answerable_q,
)
from dossiers.selectors import is_recipient
from outbox.mail import ids_by_key
from outbox.models import Message
from outbox.registry import Carried
from profiles.models import Profile

DAILY = "dossiers.daily"
DAILY_REMINDER = "dossiers.daily_reminder"
TEMPLATES = {DAILY: "daily", DAILY_REMINDER: "daily_reminder"}
RELATED = ("daily_link__daily_request__recipient",)

# A (row, dossier, recipient) the drain is about to render.
Due = tuple[Message, Dossier, Profile]


def local_day(moment: dt.datetime, row: Message) -> dt.date:
    organization = row.organization
    tz = organization.tzinfo if organization is not None else dt.UTC
    return moment.astimezone(tz).date()


def carry_invitations(due: Sequence[Due], kind: str) -> dict[int, Carried]:
    """The invitations among `due` (of one organisation) that travel in their recipient's
    e-mail of the day, forming it where it does not exist yet and others of the day wait."""
    candidates = [(row, d, p) for row, d, p in due if d.update_group_id is not None]
    if not candidates:
        return {}
    people = {person.pk for _row, _d, person in candidates}
    days = {local_day(d.created_at, row) for row, d, _p in candidates}
    formed = _formed(people, days)
    waiting = _waiting(candidates, kind, min(days), max(days))
    carried: dict[int, Carried] = {}
    for row, dossier, person in candidates:
        day = local_day(dossier.created_at, row)
        found = formed.get((person.pk, day))
        if found is None:
            mates = waiting.get((person.pk, day), set())
            if len(mates | {dossier.pk}) < 2:
                continue  # alone on its day: its own invitation, as ever
            found = formed[(person.pk, day)] = _form(row, person, day, mates | {dossier.pk})
        carrier, members = found
        if dossier.pk in members:
            carried[row.pk] = Carried(carrier)
    return carried


Formed = dict[tuple[int, dt.date], tuple[int, set[int]]]


def _formed(people: set[int], days: set[dt.date]) -> Formed:
    """The days already formed: (recipient, day) -> (its e-mail's id, its dossiers)."""
    found: Formed = {}
    links = DailyRequestMessage.objects.filter(
        daily_request__recipient_id__in=people,
        daily_request__day__in=days,
        message__kind=DAILY,
    ).values_list(
        "daily_request_id", "message_id", "daily_request__recipient_id", "daily_request__day"
    )
    by_request: dict[int, tuple[int, tuple[int, dt.date]]] = {
        request: (message, (person, day)) for request, message, person, day in links
    }
    members: dict[int, set[int]] = {}
    for request, dossier in DailyRequest.dossiers.through.objects.filter(
        dailyrequest_id__in=list(by_request)
    ).values_list("dailyrequest_id", "dossier_id"):
        members.setdefault(request, set()).add(dossier)
    for request, (message, pair) in by_request.items():
        found[pair] = (message, members.get(request, set()))
    return found


def _waiting(
    candidates: Sequence[Due], kind: str, first: dt.date, last: dt.date
) -> dict[tuple[int, dt.date], set[int]]:
    """(recipient, day) -> the recipient's open update dossiers of that day whose invitation
    waits in the outbox: one query for the batch."""
    row = candidates[0][0]
    tz = row.organization.tzinfo if row.organization is not None else dt.UTC
    start = dt.datetime.combine(first, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    waiting: dict[tuple[int, dt.date], set[int]] = {}
    links = DossierMessage.objects.filter(
        answerable_q(timezone.now(), "dossier"),
        profile_id__in={person.pk for _row, _d, person in candidates},
        message__kind=kind,
        message__status=Message.Status.QUEUED,
        dossier__update_group__isnull=False,
        dossier__created_at__gte=start,
        dossier__created_at__lt=end,
    ).values_list("profile_id", "dossier_id", "dossier__created_at")
    for person, dossier, created_at in links:
        waiting.setdefault((person, created_at.astimezone(tz).date()), set()).add(dossier)
    return waiting


def _form(row: Message, person: Profile, day: dt.date, dossiers: set[int]) -> tuple[int, set[int]]:
    """The recipient's request of the day, of `dossiers`, and its e-mail; or the one another
    worker formed a moment before (the unique (recipient, day) decides)."""
    with transaction.atomic():
        request, created = DailyRequest.objects.get_or_create(
            recipient=person, day=day, defaults={"organization_id": person.organization_id}
        )
        key = f"{DAILY}:{request.pk}"
        if created:
            request.dossiers.add(*dossiers)
            _queue_for(request, row, DAILY, key)
    return ids_by_key([key])[key], set(request.dossiers.values_list("pk", flat=True))


def _queue_for(request: DailyRequest, row: Message, kind: str, key: str) -> int:
    """The e-mail, written once whatever the number of rows that ask for it. Written by the
    drain, which claims it in its next round: no wake-up to send."""
    message = Message(
        organization_id=request.organization_id,
        key=key,
        kind=kind,
        address=row.address,
        language=row.language,
    )
    with scopes_disabled():
        Message.objects.bulk_create([message], ignore_conflicts=True)
    message_id = ids_by_key([key])[key]
    DailyRequestMessage.objects.bulk_create(
        [DailyRequestMessage(message_id=message_id, daily_request=request)],
        ignore_conflicts=True,
    )
    return message_id


def carry_reminders(due: Sequence[Due]) -> dict[int, Carried]:
    """The ladder reminders among `due` whose dossier was asked in a request of the day
    with others still open: one reminder of that request a day carries them."""
    candidates = [(row, d, p) for row, d, p in due if d.update_group_id is not None]
    if not candidates:
        return {}
    requests: dict[tuple[int, int], DailyRequest] = {}
    for formed in DailyRequest.objects.filter(
        recipient_id__in={p.pk for _r, _d, p in candidates},
        dossiers__in={d.pk for _r, d, _p in candidates},
    ).prefetch_related("dossiers"):
        for dossier in formed.dossiers.all():
            requests[(formed.recipient_id, dossier.pk)] = formed
    carried: dict[int, Carried] = {}
    now = timezone.now()
    for row, dossier, person in candidates:
        found = requests.get((person.pk, dossier.pk))
        if found is None:
            continue
        still_open = [d for d in found.dossiers.all() if d.is_open]
        if len(still_open) < 2:
            continue
        key = f"{DAILY_REMINDER}:{found.pk}:{local_day(now, row).isoformat()}"
        carried[row.pk] = Carried(_queue_for(found, row, DAILY_REMINDER, key))
    return carried


def open_requests(request: DailyRequest, person: Profile) -> list[Dossier]:
    """The dossiers of the day's request the person may still answer, or whose answer they
    may see, in the order they were opened; each followed to the newest of its chain."""
    from dossiers.opening import follow_supersession

    shown: dict[int, Dossier] = {}
    for dossier in request.dossiers.select_related(
        "profile", "organization", "update_group"
    ).order_by("id"):
        current = follow_supersession(dossier)
        if is_recipient(current, person):
            shown.setdefault(current.pk, current)
    return list(shown.values())


def render(row: Message) -> emails.EmailMultiAlternatives | None:
    link = getattr(row, "daily_link", None)
    if link is None:
        return None
    request = link.daily_request
    person = request.recipient
    dossiers = [d for d in open_requests(request, person) if d.is_open]
    if not dossiers:
        return None  # every request of the day closed before its e-mail went out
    token = AccessToken.issue(dossiers[0], person, sent_to=row.address, daily_request=request)
    with translation.override(person.language):
        shown = [
            SimpleNamespace(
                local_title=d.local_title,
                local_message=d.local_message,
                expires_at=d.expires_at,
                fields=emails.asked_fields(d),
            )
            for d in dossiers
        ]
    return emails.daily_message(
        row.organization or dossiers[0].organization,
        person,
        TEMPLATES[row.kind],
        shown,
        emails.portal_url(token),
    )


def delete_messages(requests: Q) -> None:
    """Deletes the e-mails of the requests of the day `requests` selects (a condition on
    DailyRequest), and those requests: before the people they name go (`privacy`), or once
    the purge has left them no dossier."""
    chosen = DailyRequest.objects.filter(requests)
    Message.objects.filter(
        pk__in=DailyRequestMessage.objects.filter(daily_request__in=chosen).values("message_id")
    ).delete()
    chosen.delete()
