"""The e-mails of dossiers as outbox rows: what is queued when, and how each is rendered.

Rows are written in the transaction that causes them (opening, submitting, the reminder
pass); the outbox drain renders each one when it sends it, so a personal link is minted at
that moment and never stored in clear.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from dossiers import daily, emails
from dossiers.models import (
    AccessToken,
    Dossier,
    DossierItem,
    DossierMessage,
    ItemReview,
    answerable_q,
    hash_token,
)
from dossiers.selectors import addressed_recipients_sql, is_recipient, recipients
from organizations.models import Membership
from outbox import registry
from outbox.mail import kick, queue, queue_keyed
from outbox.models import FailingAddress, Message
from profiles.models import DataField, Profile

INVITATION = "dossiers.invitation"
# Staff sent the link again: the same e-mail, and the recipient's older links are replaced.
RESEND = "dossiers.resend"
REMINDER = "dossiers.reminder"
CHANGES_REQUESTED = "dossiers.changes_requested"
CONFIRMATION = "dossiers.confirmation"
STAFF_NOTICE = "dossiers.staff_notice"
DIGEST = "dossiers.digest"
# Digests go out at this local hour, once a day per member.
DIGEST_HOUR = 8
LINK_TEMPLATES = {
    INVITATION: "invitation",
    RESEND: "invitation",
    REMINDER: "reminder",
    CHANGES_REQUESTED: "changes_requested",
}


# What rendering a message reads through its link, loaded with the batch. A link message's
# group is read once per batch (`emails.with_groups`), for the messages that go out alone.
RELATED = ("dossier_link__profile", "dossier_link__dossier__profile")
LINK_RELATED = RELATED


def register_kinds() -> None:
    for kind, label in (
        (INVITATION, _("Invitation")),
        (RESEND, _("Link sent again")),
        (REMINDER, _("Reminder")),
        (CHANGES_REQUESTED, _("Changes requested")),
    ):
        registry.register(
            kind, _render_link, label, render_batch=_render_links, related=LINK_RELATED
        )
    registry.register(
        CONFIRMATION, _render_confirmation, _("Confirmation to the client"), related=RELATED
    )
    registry.register(STAFF_NOTICE, _render_staff_notice, _("Notice to staff"), related=RELATED)
    registry.register(DIGEST, _render_digest, _("Daily digest"))
    for kind, label in (
        (daily.DAILY, _("Requests of the day")),
        (daily.DAILY_REMINDER, _("Reminder of the requests of the day")),
    ):
        registry.register(
            kind, daily.render, label, render_batch=daily.render_batch, related=daily.RELATED
        )


def _link_of(row: Message) -> DossierMessage | None:
    return getattr(row, "dossier_link", None)


def _dossier_of(row: Message) -> Dossier | None:
    link = _link_of(row)
    dossier = link.dossier if link is not None else None
    if dossier is not None and row.organization is not None:
        dossier.organization = row.organization
    return dossier


def _person_of(row: Message) -> Profile | None:
    link = _link_of(row)
    return link.profile if link is not None else None


def _carried(due: Sequence[tuple[Message, Dossier, Profile]]) -> dict[int, registry.Carried]:
    """Those of `due` that go out in their recipient's e-mail of the day (`dossiers.daily`):
    invitations, and ladder reminders ("Remind all" is staff's, and goes as they asked)."""
    invitations = [entry for entry in due if entry[0].kind == INVITATION]
    reminders = [entry for entry in due if entry[0].kind == REMINDER and MANUAL not in entry[0].key]
    return {
        **daily.carry_invitations(invitations, INVITATION),
        **daily.carry_reminders(reminders),
    }


def _render_link(row: Message) -> registry.Rendered:
    dossier, person = _dossier_of(row), _person_of(row)
    # A link to a dossier closed in the meantime would only lead to "expired".
    if dossier is None or person is None or not dossier.is_open:
        return None
    # Checked when it is sent, not when it was queued: a representative removed or a person
    # archived meanwhile gets nothing, not even a link that would be refused.
    if not is_recipient(dossier, person):
        return None
    carried = _carried([(row, dossier, person)])
    if row.pk in carried:
        return carried[row.pk]
    if row.kind == RESEND:
        # A link sent again replaces the recipient's older links: their page says so.
        AccessToken.objects.filter(
            dossier=dossier,
            recipient=person,
            issued_to__isnull=True,
            replaced_at__isnull=True,
            # The link of the recipient's day leads to its other requests too: it stays.
            daily_request__isnull=True,
        ).update(replaced_at=timezone.now())
    # The outbox sends to the row's address: the link records it.
    return emails.link_message(dossier, person, LINK_TEMPLATES[row.kind], sent_to=row.address)


def _render_links(rows: Sequence[Message]) -> dict[int, registry.Rendered]:
    """The link messages of one organisation's batch, as `_render_link` renders each one, with
    the batch's tokens issued in one INSERT and the fields it asks read in one query."""
    results: dict[int, registry.Rendered] = {}
    due: list[tuple[Message, Dossier, Profile]] = []
    for row in rows:
        dossier, person = _dossier_of(row), _person_of(row)
        if (
            dossier is None
            or person is None
            or not dossier.is_open
            or not is_recipient(dossier, person)
        ):
            results[row.pk] = None
        else:
            due.append((row, dossier, person))
    carried = _carried(due)
    results.update(carried)
    due = [entry for entry in due if entry[0].pk not in carried]
    if not due:
        return results
    emails.with_groups(dossier for _row, dossier, _person in due)
    tokens = AccessToken.issue_many(
        [(dossier, person, row.address) for row, dossier, person in due]
    )
    _replace_older_links(due, tokens)
    # The items as plain tuples and each field once: a batch's dossiers mostly ask for the
    # same few fields, and building their objects per item would cost more than the query.
    items: dict[int, list[tuple[int, str, str]]] = {}
    for dossier_id, field_id, review, reason in (
        DossierItem.objects.filter(dossier_id__in={dossier.pk for _row, dossier, _p in due})
        .order_by("dossier_id", "position", "id")
        .values_list("dossier_id", "field_id", "review", "rejection_reason")
    ):
        items.setdefault(dossier_id, []).append((field_id, review, reason))
    fields = DataField.objects.in_bulk(
        {field_id for asked in items.values() for field_id, _review, _reason in asked}
    )
    mailer = emails.LinkMessages()
    for (row, dossier, person), token in zip(due, tokens, strict=True):
        asked = items.get(dossier.pk, [])
        changes = dossier.status == Dossier.Status.CHANGES_REQUESTED
        rejected = [
            emails.AskedAgain(fields[field_id], reason)
            for field_id, review, reason in asked
            if changes and review == ItemReview.REJECTED
        ]
        results[row.pk] = mailer.message(
            dossier,
            person,
            LINK_TEMPLATES[row.kind],
            token,
            [fields[field_id] for field_id, _review, _reason in asked],
            rejected,
        )
    return results


def _replace_older_links(due: list[tuple[Message, Dossier, Profile]], tokens: list[str]) -> None:
    """A link sent again replaces the recipient's older links, as if the batch's messages were
    rendered one by one: those issued before it, in this batch or earlier, not those after."""
    last_resend = {
        (dossier.pk, person.pk): position
        for position, (row, dossier, person) in enumerate(due)
        if row.kind == RESEND
    }
    if not last_resend:
        return
    kept: dict[tuple[int, int], list[str]] = {pair: [] for pair in last_resend}
    for position, ((_row, dossier, person), token) in enumerate(zip(due, tokens, strict=True)):
        pair = (dossier.pk, person.pk)
        if pair in last_resend and position >= last_resend[pair]:
            kept[pair].append(hash_token(token))
    older = Q()
    for (dossier_id, person_id), hashes in kept.items():
        older |= Q(dossier_id=dossier_id, recipient_id=person_id) & ~Q(token_hash__in=hashes)
    AccessToken.objects.filter(
        older, issued_to__isnull=True, replaced_at__isnull=True, daily_request__isnull=True
    ).update(replaced_at=timezone.now())


def _render_confirmation(row: Message) -> emails.EmailMultiAlternatives | None:
    dossier, person = _dossier_of(row), _person_of(row)
    if dossier is None or person is None:
        return None
    # Sent back for corrections before this went out: that e-mail says what to do instead.
    if dossier.status == Dossier.Status.CHANGES_REQUESTED:
        return None
    return emails.confirmation_message(dossier, person)


def _render_staff_notice(row: Message) -> emails.EmailMultiAlternatives | None:
    dossier = _dossier_of(row)
    if dossier is None:
        return None
    return emails.staff_notice_message(dossier, row.address, dossier.organization.default_language)


def queue_link_messages(
    dossier_ids: Sequence[int],
    kind: str,
    *,
    again: bool = False,
    suffix: str = "",
    skip_failing: bool = False,
    settle: bool = False,
) -> None:
    """One message per recipient of each dossier, in one INSERT … SELECT, and its link.

    The key (kind, dossier, recipient, `suffix`) makes a repeat a no-op; `again` (staff
    asked to send the link again) gives the messages keys of their own. `skip_failing`
    leaves out the recipients whose address fails (staff were told at the door); otherwise
    their rows are written and the drain shows them undeliverable without sending them.
    """
    if not dossier_ids:
        return
    suffix = f":{uuid.uuid4().hex}" if again else suffix
    ids = ", ".join(["%s"] * len(dossier_ids))
    dossiers = (
        f"(SELECT id, organization_id, profile_id FROM {Dossier._meta.db_table}"  # noqa: S608
        f" WHERE id IN ({ids}))"
    )
    with connection.cursor() as cursor:
        for sql, params in link_messages_statements(
            kind,
            dossiers,
            list(dossier_ids),
            suffix=suffix,
            skip_failing=skip_failing,
            settle=settle,
        ):
            cursor.execute(sql, params)
    transaction.on_commit(kick)


def _link_targets(
    kind: str,
    dossiers: str,
    dossier_params: Sequence[object],
    *,
    suffix: str,
    profiles: tuple[str, Sequence[object]] | None,
    skip_failing: bool = False,
) -> tuple[str, list[Any]]:
    """Who gets a message, with its key: rows of organization_id, dossier_id, profile_id,
    email, language, message_key. Who is `dossiers.selectors`' rule; `profiles` is its
    bound on the dossiers' profiles ("{}" standing for the column, with its parameters)."""
    addressed, addressed_params = addressed_recipients_sql(
        dossiers, dossier_params, profiles=profiles
    )
    # Addresses are kept in lower case in the failing table.
    failing = (
        f"""WHERE NOT EXISTS (SELECT 1 FROM {FailingAddress._meta.db_table} f
            WHERE f.organization_id = r.organization_id AND f.address = LOWER(r.email))"""  # noqa: S608
        if skip_failing
        else ""
    )
    sql = f"""
        SELECT r.organization_id, r.dossier_id, r.profile_id, r.email, r.language,
            CAST(%s AS TEXT) || r.dossier_id || ':' || r.profile_id || CAST(%s AS TEXT)
                AS message_key
        FROM ({addressed}) r
        {failing}
    """  # noqa: S608 - the relation is built from the models, values are parameters
    return sql, [f"{kind}:", suffix, *addressed_params]


def settled(now: dt.datetime) -> dt.datetime:
    """When the invitations of update requests opened at `now` are due: once the day's
    other groups are opened too, so that each recipient's go out as one (`dossiers.daily`)."""
    return now + dt.timedelta(seconds=settings.DOSSIERS_DAILY_SETTLE_SECONDS)


def _messages_insert(
    kind: str, targets: str, *, returning: bool, settle: bool = False
) -> tuple[str, list[Any]]:
    """The outbox rows of the relation `targets` (the columns of `_link_targets`), due now,
    or once `settle`d."""
    moment = timezone.now()
    now = connection.ops.adapt_datetimefield_value(moment)
    due = connection.ops.adapt_datetimefield_value(settled(moment) if settle else moment)
    table, quote = Message._meta.db_table, connection.ops.quote_name
    sql = f"""
        INSERT INTO {table} (organization_id, {quote("key")}, status, attempts,
            next_attempt_at, last_error, created_at, kind, address, language)
        SELECT t.organization_id, t.message_key, %s, 0, %s, '', %s, %s, t.email, t.language
        FROM {targets} t
        WHERE 1 = 1  -- SQLite reads an ON right after FROM as a join's
        ON CONFLICT DO NOTHING
        {f"RETURNING id, {quote('key')}" if returning else ""}
    """  # noqa: S608 - names come from the models, values are parameters
    return sql, [Message.Status.QUEUED, due, now, kind]


def _links_insert(targets: str, messages: str) -> str:
    """The links of the messages of `messages` (id, key) to the dossiers of `targets`. A
    message that was there already has its link already: the conflict skips it."""
    link, quote = DossierMessage._meta.db_table, connection.ops.quote_name
    return f"""
        INSERT INTO {link} (message_id, dossier_id, profile_id)
        SELECT m.id, t.dossier_id, t.profile_id
        FROM {targets} t JOIN {messages} m ON m.{quote("key")} = t.message_key
        WHERE 1 = 1
        ON CONFLICT DO NOTHING
    """  # noqa: S608 - names come from the models


def link_messages_statements(
    kind: str,
    dossiers: str,
    dossier_params: Sequence[object],
    *,
    suffix: str = "",
    profiles: tuple[str, Sequence[object]] | None = None,
    skip_failing: bool = False,
    settle: bool = False,
) -> list[tuple[str, list[Any]]]:
    """The statements of `queue_link_messages`, run in turn, for the dossiers of the relation
    `dossiers` (SQL with columns id, organization_id, profile_id, and its parameters): the
    messages, then their links (`DossierMessage`), found again by their unique key."""
    targets, target_params = _link_targets(
        kind, dossiers, dossier_params, suffix=suffix, profiles=profiles, skip_failing=skip_failing
    )
    messages, message_params = _messages_insert(
        kind, f"({targets})", returning=False, settle=settle
    )
    links = _links_insert(f"({targets})", Message._meta.db_table)
    return [(messages, [*message_params, *target_params]), (links, target_params)]


def link_messages_ctes(
    kind: str,
    dossiers: str,
    dossier_params: Sequence[object],
    *,
    suffix: str = "",
    profiles: tuple[str, Sequence[object]] | None = None,
    settle: bool = False,
) -> tuple[list[str], list[Any]]:
    """The same, as parts of one PostgreSQL statement of data-modifying CTEs (the fan-out's,
    `dossiers.opening`): the links join the messages the INSERT … RETURNING gives. The
    caller wakes the drain once it commits (`outbox.mail.kick`)."""
    targets, target_params = _link_targets(
        kind, dossiers, dossier_params, suffix=suffix, profiles=profiles
    )
    messages, message_params = _messages_insert(kind, "link_targets", returning=True, settle=settle)
    parts = [
        f"link_targets AS ({targets})",
        f"link_messages AS ({messages})",
        f"message_links AS ({_links_insert('link_targets', 'link_messages')})",
    ]
    return parts, [*target_params, *message_params]


class Linked(NamedTuple):
    """A message to queue, the dossier it is about and the recipient it is for."""

    message: Message
    dossier_id: int
    profile_id: int | None


def queue_linked(rows: Sequence[Linked]) -> None:
    """Queues the messages and links each to its dossier and recipient (`DossierMessage`).
    A message whose key was there already keeps the link it was written with."""
    if not rows:
        return
    ids = queue_keyed([row.message for row in rows])
    DossierMessage.objects.bulk_create(
        [
            DossierMessage(
                message_id=ids[row.message.key],
                dossier_id=row.dossier_id,
                profile_id=row.profile_id,
            )
            for row in rows
            if row.message.key in ids
        ],
        ignore_conflicts=True,
    )


def delete_messages(dossiers: Q) -> None:
    """Deletes the messages about the dossiers `dossiers` selects (a condition on
    DossierMessage), before the dossiers or people they name go: a message names no dossier
    itself, so none would go with it."""
    Message.objects.filter(
        pk__in=DossierMessage.objects.filter(dossiers).values("message_id")
    ).delete()


def latest_step(
    sent_at: dt.datetime,
    expires_at: dt.datetime,
    now: dt.datetime,
    after: Sequence[int],
    before: Sequence[int],
) -> str | None:
    """The name of the latest rung of the ladder due at `now`, or None."""
    steps = [(sent_at + dt.timedelta(days=d), f"after-{d}") for d in after]
    steps += [(expires_at - dt.timedelta(days=d), f"before-{d}") for d in before]
    due = [(moment, name) for moment, name in steps if sent_at < moment <= now]
    return max(due)[1] if due else None


def queue_reminders(now: dt.datetime | None = None) -> int:
    """Each recipient who still owes an answer gets the latest rung of the reminder ladder
    that is due (3 and 10 days after sending, 2 before closing unless the dossier's policy
    says otherwise), once: the rung is in the message's key. Only the latest rung, so a pass
    after downtime sends one reminder, not a burst.

    Crosses tenants: the caller runs it with scopes disabled. Returns how many were queued.
    """
    now = now or timezone.now()
    invitations = (
        DossierMessage.objects.filter(
            answerable_q(now, "dossier"),
            message__kind=INVITATION,
            message__status=Message.Status.SENT,
        )
        .select_related("message", "dossier")
        .order_by("dossier_id", "profile_id", "message__done_at")
    )
    wanted: dict[str, Linked] = {}
    seen: set[tuple[int, int | None]] = set()
    for link in invitations.iterator(chunk_size=2000):
        invitation, dossier = link.message, link.dossier
        pair = (dossier.pk, link.profile_id)
        if pair in seen or invitation.done_at is None:
            continue  # the first invitation sent is when the ladder starts
        seen.add(pair)
        step = latest_step(
            invitation.done_at,
            dossier.expires_at,
            now,
            dossier.remind_after or (),
            dossier.remind_before or (),
        )
        if step is None:
            continue
        key = f"{REMINDER}:{dossier.pk}:{link.profile_id}:{step}"
        wanted[key] = Linked(
            Message(
                organization_id=invitation.organization_id,
                key=key,
                kind=REMINDER,
                address=invitation.address,
            ),
            dossier.pk,
            link.profile_id,
        )
    existing = set(Message.objects.filter(key__in=list(wanted)).values_list("key", flat=True))
    new = [linked for key, linked in wanted.items() if key not in existing]
    queue_linked(new)
    return len(new)


# What the keys of "Remind all" reminders hold.
MANUAL = ":manual-"


def _manual_suffix(now: dt.datetime | None) -> str:
    return f"{MANUAL}{(now or timezone.now()).strftime('%Y%m%d%H')}"


def reminded_this_hour(dossier_ids: Sequence[int], now: dt.datetime | None = None) -> set[int]:
    """The dossiers among these whose "Remind all" reminder of this hour is queued or sent
    already: `remind_now` writes them nothing more until the next hour."""
    return set(
        DossierMessage.objects.filter(
            dossier_id__in=dossier_ids,
            message__kind=REMINDER,
            message__key__endswith=_manual_suffix(now),
        ).values_list("dossier_id", flat=True)
    )


def reminders_this_hour(dossiers: Q, now: dt.datetime | None = None) -> QuerySet[Message]:
    """The "Remind all" reminders of this hour to the dossiers `dossiers` selects (a filter
    on the message's link to its dossier, such as `Q(dossier_link__dossier__update_group=…)`)."""
    return Message.objects.filter(dossiers, kind=REMINDER, key__endswith=_manual_suffix(now))


def next_reminder_hour(now: dt.datetime | None = None) -> dt.datetime:
    """When "Remind all" can write to a dossier reminded this hour again: the key's hour is
    the UTC clock's."""
    moment = (now or timezone.now()).astimezone(dt.UTC)
    return moment.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def remind_now(dossier_ids: Sequence[int], now: dt.datetime | None = None) -> bool:
    """ "Remind all outstanding": one reminder per recipient of each dossier, once an hour
    whatever the number of clicks (the hour is in the key). False if this hour's reminders
    had already been queued, so nothing new goes out."""
    suffix = _manual_suffix(now)
    done = DossierMessage.objects.filter(
        dossier_id__in=dossier_ids, message__kind=REMINDER, message__key__endswith=suffix
    ).exists()
    queue_link_messages(dossier_ids, REMINDER, suffix=suffix, skip_failing=True)
    return not done


def queue_submission_notices(
    dossier: Dossier, recipient: Profile | None, *, thank_client: bool = True
) -> None:
    """The client's confirmation and the notice to the organisation's administrators (and the
    dossier's creator), in the submission's transaction. Keyed by the submission's moment,
    so a dossier submitted again after changes were asked confirms again. A client whose
    page staff filled in is not thanked for answers they never gave (`thank_client`)."""
    moment = dossier.submitted_at.isoformat() if dossier.submitted_at else ""
    rows = [
        Linked(
            Message(
                organization_id=dossier.organization_id,
                key=f"{CONFIRMATION}:{dossier.pk}:{moment}:{person.pk}",
                kind=CONFIRMATION,
                address=person.email,
            ),
            dossier.pk,
            person.pk,
        )
        for person in ([recipient] if recipient else recipients(dossier))
        if person.email and thank_client
    ]
    # Each member chooses: every submission, a daily digest, or nothing; the creator of a
    # one-off request hears of its answer unless they chose nothing.
    members = list(
        Membership.objects.filter(organization_id=dossier.organization_id).select_related("user")
    )
    staff = [
        m.user.email
        for m in members
        if m.user.email
        and (
            m.effective_notices == Membership.Notices.EACH
            or (m.user_id == dossier.created_by_id and m.notices != Membership.Notices.NONE)
        )
    ]
    rows += [
        Linked(
            Message(
                organization_id=dossier.organization_id,
                key=f"{STAFF_NOTICE}:{dossier.pk}:{moment}:{email}"[:200],
                kind=STAFF_NOTICE,
                address=email,
            ),
            dossier.pk,
            None,
        )
        for email in staff
    ]
    queue_linked(rows)


def digest_counts(organization_id: int, now: dt.datetime) -> dict[str, int]:
    """What a daily digest says: the last day's answers and what waits."""
    since = now - dt.timedelta(days=1)
    dossiers = Dossier.objects.filter(organization_id=organization_id)
    return {
        "received": dossiers.filter(submitted_at__gt=since).count(),
        "to_review": dossiers.filter(status=Dossier.Status.TO_REVIEW).count(),
        "overdue": dossiers.filter(
            status=Dossier.Status.EXPIRED, expires_at__gt=since, expires_at__lte=now
        ).count(),
    }


def queue_digests(now: dt.datetime | None = None) -> int:
    """At 08:00 in each organisation's time zone, one digest per member who wants one, if
    there is anything to say. The local date is in the key: once a day, whatever the number
    of passes. Crosses tenants: the caller runs it with scopes disabled."""
    now = now or timezone.now()
    rows: list[Message] = []
    members = Membership.objects.select_related("user", "organization").order_by("id")
    counts: dict[int, dict[str, int]] = {}
    for member in members:
        local = now.astimezone(member.organization.tzinfo)
        if local.hour != DIGEST_HOUR or not member.user.email:
            continue
        if member.effective_notices != Membership.Notices.DIGEST:
            continue
        if member.organization_id not in counts:
            counts[member.organization_id] = digest_counts(member.organization_id, now)
        if not any(counts[member.organization_id].values()):
            continue
        rows.append(
            Message(
                organization_id=member.organization_id,
                key=f"{DIGEST}:{member.pk}:{local.date().isoformat()}",
                kind=DIGEST,
                address=member.user.email,
                language=member.organization.default_language,
            )
        )
    existing = set(
        Message.objects.filter(key__in=[r.key for r in rows]).values_list("key", flat=True)
    )
    new = [row for row in rows if row.key not in existing]
    queue(new)
    return len(new)


def _render_digest(row: Message) -> emails.EmailMultiAlternatives | None:
    organization = row.organization  # loaded with the row (the drain's select_related)
    if organization is None:
        return None  # never: a digest is queued for a member of an organisation
    counts = digest_counts(organization.pk, timezone.now())
    if not any(counts.values()):
        return None
    return emails.digest_message(organization, row.address, row.language, counts)
