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
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django_scopes import scopes_disabled

from dossiers import emails
from dossiers.models import (
    AccessToken,
    DailyRequest,
    DailyRequestMessage,
    Dossier,
    DossierItem,
    DossierMessage,
    answerable_q,
)
from dossiers.selectors import is_recipient
from outbox import claims
from outbox.mail import ids_by_key
from outbox.models import Message
from outbox.registry import Carried, Rendered
from profiles.models import DataField, Profile

DAILY = "dossiers.daily"
DAILY_REMINDER = "dossiers.daily_reminder"
TEMPLATES = {DAILY: "daily", DAILY_REMINDER: "daily_reminder"}
RELATED = ("daily_link__daily_request__recipient",)

# A (row, dossier, recipient) the drain is about to render.
Due = tuple[Message, Dossier, Profile]
# (recipient, day) -> (the id of the day's e-mail, the ids of its dossiers).
Formed = dict[tuple[int, dt.date], tuple[int, set[int]]]


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
    to_form: dict[tuple[int, dt.date], tuple[Message, set[int]]] = {}
    for row, dossier, person in candidates:
        pair = (person.pk, local_day(dossier.created_at, row))
        mates = set(waiting.get(pair, {})) | {dossier.pk}
        # Alone on its day, a request keeps its own invitation, as ever.
        if pair not in formed and pair not in to_form and len(mates) >= 2:
            to_form[pair] = (row, mates)
    if to_form:
        formed.update(_form(to_form))
    carried: dict[int, Carried] = {}
    for row, dossier, person in candidates:
        found = formed.get((person.pk, local_day(dossier.created_at, row)))
        if found is not None and dossier.pk in found[1]:
            carried[row.pk] = Carried(found[0])
    # The other invitations waiting of the days formed here are carried from now on: not
    # claimed again, they take the outcome the day's e-mail's mark writes. (The drain does
    # the same for the batch's own; a day formed before did it for its own.)
    claimed = {row.pk for row, _d, _p in candidates}
    claims.carry(
        Message,
        [
            (message, formed[pair][0])
            for pair in to_form
            if pair in formed
            for dossier, message in waiting.get(pair, {}).items()
            if dossier in formed[pair][1] and message not in claimed
        ],
        timezone.now() + claims.carry_wait(),
    )
    return carried


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
) -> dict[tuple[int, dt.date], dict[int, int]]:
    """(recipient, day) -> the recipient's open update dossiers of that day whose invitation
    waits in the outbox, each with that invitation's id: one query for the batch."""
    row = candidates[0][0]
    tz = row.organization.tzinfo if row.organization is not None else dt.UTC
    start = dt.datetime.combine(first, dt.time(), tzinfo=tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    waiting: dict[tuple[int, dt.date], dict[int, int]] = {}
    links = DossierMessage.objects.filter(
        answerable_q(timezone.now(), "dossier"),
        profile_id__in={person.pk for _row, _d, person in candidates},
        message__kind=kind,
        message__status=Message.Status.QUEUED,
        dossier__update_group__isnull=False,
        dossier__created_at__gte=start,
        dossier__created_at__lt=end,
    ).values_list("profile_id", "dossier_id", "dossier__created_at", "message_id")
    for person, dossier, created_at, message in links:
        waiting.setdefault((person, created_at.astimezone(tz).date()), {})[dossier] = message
    return waiting


def _form(to_form: dict[tuple[int, dt.date], tuple[Message, set[int]]]) -> Formed:
    """The recipients' requests of the day, each of its dossiers, and their e-mails, in a
    handful of statements for the batch; where another worker formed one a moment before
    (the unique (recipient, day) decides), that one, as it formed it."""
    row = next(iter(to_form.values()))[0]
    table = DailyRequest._meta.db_table
    placeholders = ", ".join(["(%s, %s, %s, %s)"] * len(to_form))
    moment = connection.ops.adapt_datetimefield_value(timezone.now())
    params: list[Any] = []
    for person, day in to_form:
        params += [row.organization_id, person, connection.ops.adapt_datefield_value(day), moment]
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (organization_id, recipient_id, day, created_at)"  # noqa: S608 - the name comes from the model
                f" VALUES {placeholders} ON CONFLICT DO NOTHING RETURNING id, recipient_id, day",
                params,
            )
            created = {(person, _date(day)): request for request, person, day in cursor.fetchall()}
        DailyRequest.dossiers.through.objects.bulk_create(
            DailyRequest.dossiers.through(dailyrequest_id=request, dossier_id=dossier)
            for pair, request in created.items()
            for dossier in to_form[pair][1]
        )
        _queue_for(
            [
                (request, to_form[pair][0], DAILY, f"{DAILY}:{request}")
                for pair, request in created.items()
            ]
        )
    return _formed({person for person, _day in to_form}, {day for _person, day in to_form})


def _date(value: object) -> dt.date:
    # SQLite gives the column back as text.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _queue_for(wanted: Sequence[tuple[int, Message, str, str]]) -> dict[str, int]:
    """The e-mails of requests of the day, as (request id, the row it answers for, kind,
    key), each written once whatever the number of rows that ask for it; their ids by key.
    Written by the drain, which claims them in its next round: no wake-up to send."""
    if not wanted:
        return {}
    with scopes_disabled():
        Message.objects.bulk_create(
            [
                Message(
                    organization_id=row.organization_id,
                    key=key,
                    kind=kind,
                    address=row.address,
                    language=row.language,
                )
                for _request, row, kind, key in wanted
            ],
            ignore_conflicts=True,
        )
    ids = ids_by_key(key for _request, _row, _kind, key in wanted)
    DailyRequestMessage.objects.bulk_create(
        [
            DailyRequestMessage(message_id=ids[key], daily_request_id=request)
            for request, _row, _kind, key in wanted
        ],
        ignore_conflicts=True,
    )
    return ids


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
    wanted: dict[int, tuple[int, Message, str, str]] = {}
    now = timezone.now()
    for row, dossier, person in candidates:
        found = requests.get((person.pk, dossier.pk))
        if found is None or len([d for d in found.dossiers.all() if d.is_open]) < 2:
            continue
        key = f"{DAILY_REMINDER}:{found.pk}:{local_day(now, row).isoformat()}"
        wanted[row.pk] = (found.pk, row, DAILY_REMINDER, key)
    ids = _queue_for(list({entry[3]: entry for entry in wanted.values()}.values()))
    return {pk: Carried(ids[entry[3]]) for pk, entry in wanted.items()}


def open_requests(request: DailyRequest, person: Profile) -> list[Dossier]:
    """The dossiers of the day's request the person may still answer, or whose answer they
    may see, in the order they were opened; each followed to the newest of its chain."""
    shown: dict[int, Dossier] = {}
    for dossier in request.dossiers.select_related(
        "profile", "organization", "update_group"
    ).order_by("id"):
        current = _newest(dossier)
        if is_recipient(current, person):
            shown.setdefault(current.pk, current)
    return list(shown.values())


def _newest(dossier: Dossier) -> Dossier:
    # Opening queues its invitations through `dossiers.messages`, which renders through here.
    from dossiers.opening import follow_supersession

    return follow_supersession(dossier)


def _dossiers(
    rows: Sequence[Message], requests: dict[int, DailyRequest], ids: set[int]
) -> dict[int, Dossier]:
    """The dossiers of the batch's days by id, with their profile, organisation and group,
    each of those built once: a day's dossiers share their recipient, the batch's its
    organisation, and a morning's dossiers come from a handful of groups."""
    loaded = Dossier.objects.in_bulk(ids)
    people = {day.recipient.pk: day.recipient for day in requests.values()}
    missing = {d.profile_id for d in loaded.values()} - set(people)
    if missing:
        people.update(Profile.objects.in_bulk(missing))
    organizations = {row.organization_id: row.organization for row in rows if row.organization}
    for dossier in loaded.values():
        organization = organizations.get(dossier.organization_id)
        if organization is not None:
            dossier.organization = organization
        # A profile gone meanwhile is read as it would have been, on its own.
        if dossier.profile_id in people:
            dossier.profile = people[dossier.profile_id]
    emails.with_groups(loaded.values())
    return loaded


def render(row: Message) -> Rendered:
    return render_batch([row])[row.pk]


def render_batch(rows: Sequence[Message]) -> dict[int, Rendered]:
    """The e-mails of recipients' days of one organisation's batch: their requests read in
    one query, the fields they ask in two, their links issued in one INSERT. Each lists the
    requests of its day the recipient may still answer; with none left, it is no longer
    needed (and the invitations it carries with it)."""
    results: dict[int, Rendered] = {}
    requests: dict[int, DailyRequest] = {}
    for row in rows:
        link = getattr(row, "daily_link", None)
        if link is None:
            results[row.pk] = None
        else:
            requests[row.pk] = link.daily_request
    members: dict[int, list[int]] = {}
    for request_id, member_id in (
        DailyRequest.dossiers.through.objects.filter(
            dailyrequest_id__in={r.pk for r in requests.values()}
        )
        .order_by("dossier_id")
        .values_list("dailyrequest_id", "dossier_id")
    ):
        members.setdefault(request_id, []).append(member_id)
    loaded = _dossiers(rows, requests, {d for ids in members.values() for d in ids})
    due: list[tuple[Message, Profile, list[Dossier]]] = []
    by_pk = {row.pk: row for row in rows}
    for pk, day in requests.items():
        person = day.recipient
        shown: dict[int, Dossier] = {}
        for dossier_id in members.get(day.pk, []):
            found = loaded.get(dossier_id)
            if found is not None and found.superseded_by_id:
                found = _newest(found)
            if found is not None and found.is_open and is_recipient(found, person):
                shown.setdefault(found.pk, found)
        row = by_pk[pk]
        if shown:
            due.append((row, person, list(shown.values())))
        else:
            results[pk] = None  # every request of the day closed before its e-mail went out
    if not due:
        return results
    asked: dict[int, list[int]] = {}
    for dossier_id, field_id in (
        DossierItem.objects.filter(dossier_id__in={d.pk for _r, _p, ds in due for d in ds})
        .order_by("dossier_id", "position", "id")
        .values_list("dossier_id", "field_id")
    ):
        asked.setdefault(dossier_id, []).append(field_id)
    fields = DataField.objects.in_bulk({f for ids in asked.values() for f in ids})
    tokens = AccessToken.issue_many(
        [(dossiers[0], person, row.address) for row, person, dossiers in due],
        daily_requests=[requests[row.pk].pk for row, _person, _dossiers in due],
    )
    mailer = emails.DailyMessages()
    for (row, person, dossiers), token in zip(due, tokens, strict=True):
        with translation.override(person.language):
            shown_requests = [
                SimpleNamespace(
                    local_title=d.local_title,
                    local_message=d.local_message,
                    expires_at=d.expires_at,
                    fields=[fields[f] for f in asked.get(d.pk, [])],
                )
                for d in dossiers
            ]
        organization = row.organization or dossiers[0].organization
        results[row.pk] = mailer.message(
            organization, person, TEMPLATES[row.kind], shown_requests, token
        )
    return results


def delete_messages(requests: Q) -> None:
    """Deletes the e-mails of the requests of the day `requests` selects (a condition on
    DailyRequest), and those requests: before the people they name go (`privacy`), or once
    the purge has left them no dossier."""
    chosen = DailyRequest.objects.filter(requests)
    Message.objects.filter(
        pk__in=DailyRequestMessage.objects.filter(daily_request__in=chosen).values("message_id")
    ).delete()
    chosen.delete()
