"""The e-mail outbox: queued in the caller's transaction, drained by claim → send → mark."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import smtplib
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from typing import Any

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.core.mail.utils import DNS_NAME
from django.db import DatabaseError, transaction
from django.db import connection as django_connection
from django.db.models import Exists, OuterRef
from django.db.models.constants import OnConflict
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from outbox import claims, registry, selectors
from outbox.headers import AUTOMATIC_HEADERS
from outbox.models import Message

logger = logging.getLogger(__name__)

SWEEP = "outbox.tasks.send_messages"


def queue(messages: Iterable[Message]) -> None:
    """Writes the messages in the current transaction and wakes the drain once it commits.

    A message whose key is there already is skipped: writing it twice sends it once.
    """
    messages = list(messages)
    if not messages:
        return
    with scopes_disabled():
        Message.objects.bulk_create(messages, ignore_conflicts=True)
    transaction.on_commit(kick)


def queue_keyed(messages: Iterable[Message]) -> dict[str, int]:
    """`queue`, and the ids of the messages by key, written now or before: the INSERT
    returns those it wrote, so only a key that was there already is read back."""
    messages = list(messages)
    if not messages:
        return {}
    if not django_connection.features.can_return_rows_from_bulk_insert:
        queue(messages)
        return ids_by_key(message.key for message in messages)
    opts = Message._meta
    with scopes_disabled():
        rows = Message.objects._insert(  # bulk_create returns no ids when it ignores conflicts
            messages,
            fields=[f for f in opts.concrete_fields if not f.primary_key],
            returning_fields=[opts.pk, opts.get_field("key")],
            on_conflict=OnConflict.IGNORE,
        )
    transaction.on_commit(kick)
    # A skipped row returns nothing (a single row, None).
    ids = {key: pk for pk, key in (row for row in rows if row)}
    return ids | ids_by_key(message.key for message in messages if message.key not in ids)


def ids_by_key(keys: Iterable[str]) -> dict[str, int]:
    """The ids of the messages of these keys, written now or before: what a sender needs to
    link its messages to what they are about, in its own tables."""
    keys = list(keys)
    if not keys:
        return {}
    with scopes_disabled():
        return dict(Message.objects.filter(key__in=keys).values_list("key", "id"))


def kick() -> None:
    """Best effort: with the broker down, the periodic drain sends the messages all the same."""
    from outbox.tasks import send_messages

    try:
        send_messages.apply_async(
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        )
    except Exception:
        logger.warning(
            "Could not wake the outbox drain; the periodic sweep %s will send the messages",
            SWEEP,
            exc_info=True,
        )


def send_due(now: dt.datetime | None = None, batch_size: int | None = None) -> int:
    """Sends due messages in batches until none is due or the time budget is spent."""
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < settings.OUTBOX_DRAIN_SECONDS:
        moment = now or timezone.now()
        with scopes_disabled():
            claimed = claims.claim(Message, moment, batch_size)
            if not claimed:
                break
            sent += _send_batch(claimed, moment)
    return sent


def message_id(key: str) -> str:
    """The same Message-ID for every attempt of a message, so that a receiving server or
    mail client can tell a re-sent one (a worker killed between send and mark) for what it is.
    """
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}@{DNS_NAME}>"


def _connection_lost(error: Exception) -> bool:
    if isinstance(error, AnymailAPIError):
        # An e-mail service's API: unreachable, failing (5xx) or asking to slow down (429)
        # holds the batch back; a 4xx about one message (an OSError too) is that message's.
        status = getattr(getattr(error, "response", None), "status_code", None)
        return status is None or status >= 500 or status == 429
    # SMTPException is an OSError too: a reply about one message is not a lost connection.
    return isinstance(error, smtplib.SMTPServerDisconnected) or (
        isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)
    )


def _permanent(error: Exception, to: str) -> bool:
    """5xx for this recipient: the address will not work however often it is tried (or the
    e-mail service refused every recipient: an invalid or suppressed address)."""
    if isinstance(error, AnymailRecipientsRefused):
        return True
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code = error.recipients.get(to, (0, b""))[0]
        return 500 <= code < 600
    if isinstance(error, smtplib.SMTPDataError):
        return 500 <= error.smtp_code < 600
    return False


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{code} {reply.decode(errors='replace')}" for code, reply in error.recipients.values()
        )
    return f"{type(error).__name__}: {error}"


def _render(rows: list[Message]) -> dict[int, registry.Rendered | Exception]:
    """Each row's e-mail, None if no longer needed, or the error its rendering raised.

    Rows of one organisation whose kinds share a batch renderer are rendered together, in the
    organisation's scope; a batch that fails is rendered again row by row, so that a bug in
    one message's rendering costs that message only.
    """
    results: dict[int, registry.Rendered | Exception] = {}
    groups: dict[tuple[int | None, registry.BatchRenderer | None], list[Message]] = {}
    for row in rows:
        groups.setdefault((row.organization_id, registry.render_batch(row.kind)), []).append(row)
    for (organization_id, render_batch), group in groups.items():
        # A message of no organisation (a password reset) stays outside any tenant.
        tenant = scope(organization=group[0].organization) if organization_id else nullcontext()
        with tenant:
            if render_batch is not None:
                try:
                    results.update(render_batch(group))
                    continue
                except Exception:
                    logger.exception("Rendering a batch of %d messages failed", len(group))
            for row in group:
                try:
                    results[row.pk] = registry.render(row)
                except Exception as error:
                    logger.exception(
                        "Rendering outgoing message %s failed; the sweep %s retries it",
                        row.pk,
                        SWEEP,
                    )
                    results[row.pk] = error
    return results


@contextmanager
def _commits_for_marks() -> Iterator[None]:
    """Each message is marked sent the moment the server accepts it, so that a worker killed
    mid-batch sends again at most the one message in flight. Those marks commit without
    waiting for the disk (PostgreSQL's `synchronous_commit`): a commit that waits costs more
    than sending the message. A killed worker loses none of them; only a crash of the database
    itself within a fraction of a second of a mark could lose it, and the message would go
    out once more, under the same Message-ID. The batch's closing statements commit as usual,
    which makes every mark before them durable too."""
    if django_connection.vendor != "postgresql":
        yield
        return
    with django_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        yield
    finally:
        with django_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


class _Marks:
    """Each message is marked sent as the server accepts it, before the next one's data
    leaves: a worker killed at any moment leaves at most one message accepted and not
    marked. Over SMTP on PostgreSQL a mark goes out without waiting for its reply (psycopg's
    pipeline mode), so that the database writes it while the next message's envelope (MAIL,
    RCPT) goes to the server; `commit` then waits for it, before that message's DATA."""

    def __init__(self, overlap: bool) -> None:
        self._overlap = overlap and django_connection.vendor == "postgresql"
        self._stack = ExitStack()
        self._pipeline: Any = None

    def __enter__(self) -> _Marks:
        if self._overlap:
            django_connection.ensure_connection()
            self._pipeline = self._stack.enter_context(django_connection.connection.pipeline())
        return self

    def __exit__(self, *exc: object) -> None:
        # The pipeline's last sync happens here: its error is a database error like any other.
        with django_connection.wrap_database_errors:
            self._stack.close()

    def commit(self) -> None:
        if self._pipeline is not None:
            with django_connection.wrap_database_errors:
                self._pipeline.sync()


# A plain address (a dot-atom local part at an ASCII domain of labels IDNA accepts) that
# Django's sanitize_address gives back unchanged; anything else goes through it.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*"
)


def recipient(address: str, encoding: str) -> str:
    """What Django's sanitize_address makes of `address`, without its header parser for the
    plain addresses nearly every message goes to (that parse cost a sixth of the worker's
    time per message)."""
    # "=?" may open an encoded word, which the parser decodes.
    if "=?" not in address and _PLAIN_ADDRESS.fullmatch(address):
        return address
    return sanitize_address(address, encoding)


def _smtp(connection: BaseEmailBackend) -> smtplib.SMTP | None:
    """The open SMTP connection of Django's SMTP backend, which the drain drives itself."""
    if isinstance(connection, SMTPBackend) and connection.connection is not None:
        return connection.connection
    return None


# What the server reads as the data's end, or as a line starting with it: doubled.
_LEADING_DOT = re.compile(rb"(?m)^\.")


def _envelope(email: EmailMessage, senders: dict[str, str]) -> tuple[str, list[str], bytes]:
    """The sender, recipients and bytes Django's SMTP backend would send, except that the
    sender's address ("Organisation via Back office <…>" costs more to parse than the rest of
    the message) is parsed once per sender and batch."""
    encoding = email.encoding or settings.DEFAULT_CHARSET
    if email.from_email not in senders:
        senders[email.from_email] = sanitize_address(email.from_email, encoding)
    # Django's MIME classes take the line ending that SMTP wants.
    message: Any = email.message()
    return (
        senders[email.from_email],
        [recipient(address, encoding) for address in email.recipients()],
        message.as_bytes(linesep="\r\n"),
    )


def _reset(smtp: smtplib.SMTP, code: int) -> None:
    """What smtplib does after a refusal: 421 closes the connection, anything else resets
    the transaction."""
    if code == 421:
        smtp.close()
        return
    with suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()


def _begin(smtp: smtplib.SMTP, envelope: tuple[str, list[str], bytes]) -> None:
    """smtplib's `sendmail` up to the recipients (MAIL, RCPT): nothing the server could
    deliver yet. Raises what `sendmail` raises for a refused sender or recipients."""
    sender, recipients, data = envelope
    smtp.ehlo_or_helo_if_needed()
    options = [f"size={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
    code, reply = smtp.mail(sender, options)
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for address in recipients:
        code, reply = smtp.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, reply)
        if code == 421:
            smtp.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        _reset(smtp, 0)
        raise smtplib.SMTPRecipientsRefused(refused)


def _data(smtp: smtplib.SMTP, envelope: tuple[str, list[str], bytes]) -> None:
    """The rest of `sendmail`: the data written to the server, whose verdict is left unread
    (`_accepted`), so that the drain prepares the next message while the server takes this
    one in."""
    code, reply = smtp.docmd("data")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    quoted = _LEADING_DOT.sub(b"..", envelope[2])
    if not quoted.endswith(b"\r\n"):
        quoted += b"\r\n"
    smtp.send(quoted + b".\r\n")


def _accepted(smtp: smtplib.SMTP) -> None:
    """The server's verdict on the data `_start` sent."""
    code, reply = smtp.getreply()
    if code != 250:
        _reset(smtp, code)
        raise smtplib.SMTPDataError(code, reply)


def _provider_id(email: EmailMessage) -> str:
    """The id an e-mail service (django-anymail) gave the message; empty over SMTP."""
    status = getattr(email, "anymail_status", None)
    found = getattr(status, "message_id", None)
    return found if isinstance(found, str) else ""


def _mark_sent(row: Message, email: EmailMessage) -> None:
    provider_id = _provider_id(email)[:255]
    carries = getattr(row, "carries", False)
    if not provider_id:
        claims.mark_sent(Message, row.pk, carries=carries)
        return
    moment = timezone.now()
    with transaction.atomic():
        # The service's id names its own message only: its events are about that one.
        Message.objects.filter(pk=row.pk).update(
            status=Message.Status.SENT, done_at=moment, last_error="", provider_id=provider_id
        )
        if carries:
            Message.objects.filter(carried_by=row.pk, status=Message.Status.QUEUED).update(
                status=Message.Status.SENT, done_at=moment, last_error=""
            )


def _not_to_failing(rows: list[Message]) -> tuple[list[Message], list[tuple[int, str]]]:
    """The rows to send, and those addressed to a failing address of their organisation,
    with the reason they are not sent (their address bounced for good or complained)."""
    failing = selectors.failing_among(
        {(row.organization_id, row.address) for row in rows if row.organization_id}
    )
    if not failing:
        return rows, []
    kept: list[Message] = []
    refused: list[tuple[int, str]] = []
    for row in rows:
        found = (
            failing.get((row.organization_id, row.address.strip().lower()))
            if row.organization_id is not None
            else None
        )
        if found is None:
            kept.append(row)
        else:
            refused.append(
                (
                    row.pk,
                    f"Not sent: {found.address} is failing since {found.since:%Y-%m-%d}"
                    f" ({found.reason}: {found.detail})"[:500],
                )
            )
    return kept, refused


def _send_batch(ids: list[int], now: dt.datetime) -> int:
    rows: list[Message] = list(
        Message.objects.filter(pk__in=ids)
        .select_related("organization", *registry.related())
        # A carrier's mark writes the outcome of the rows it carries too.
        .annotate(carries=Exists(Message.objects.filter(carried_by=OuterRef("pk"))))
        .order_by("id")
    )
    # An address that bounced for good or complained gets nothing more until staff say so.
    rows, refused = _not_to_failing(rows)
    for pk, reason in refused:
        logger.info("Message %s not sent: %s", pk, reason)
        claims.mark_undeliverable(Message, pk, reason)
    if not rows:
        return 0
    connection = get_connection()
    try:
        connection.open()
    except (OSError, smtplib.SMTPException) as error:
        logger.warning(
            "SMTP unavailable (%s); %d messages wait for the sweep %s",
            _describe(error),
            len(rows),
            SWEEP,
        )
        claims.mark_retry(Message, [(r.pk, r.attempts) for r in rows], _describe(error), now)
        return 0
    # Outcomes other than "sent" are written after the SMTP session, a statement each: a
    # worker killed before writing them only leaves those rows to be tried again.
    cancelled: list[int] = []
    undeliverable: list[tuple[int, str]] = []
    retry: list[tuple[Message, str]] = []
    carried: list[tuple[Message, int]] = []
    senders: dict[str, str] = {}
    sent = 0
    try:
        outgoing: list[tuple[Message, EmailMessage]] = []
        emails = _render(rows)
        for row in rows:
            outcome = emails[row.pk]
            if isinstance(outcome, Exception):
                retry.append((row, _describe(outcome)))
            elif outcome is None:
                cancelled.append(row.pk)
            elif isinstance(outcome, registry.Carried):
                carried.append((row, outcome.by))
            else:
                outcome.to = [row.address]
                for name, value in AUTOMATIC_HEADERS.items():
                    outcome.extra_headers.setdefault(name, value)
                outcome.extra_headers["Message-ID"] = message_id(row.key)
                outgoing.append((row, outcome))
        smtp = _smtp(connection)
        # The envelope of the message after the one the server is reading, prepared meanwhile.
        ahead: dict[int, tuple[str, list[str], bytes] | Exception] = {}

        def prepare(position: int) -> tuple[str, list[str], bytes] | Exception:
            try:
                return _envelope(outgoing[position][1], senders)
            except Exception as error:  # that message's fault, told when its turn comes
                return error

        def failed(position: int, error: Exception) -> bool:
            """Files the message's error; True when the rest of the batch waits too."""
            row = outgoing[position][0]
            if _connection_lost(error):
                rest = outgoing[position:]
                logger.warning(
                    "SMTP connection lost (%s); %d messages wait for the sweep %s",
                    _describe(error),
                    len(rest),
                    SWEEP,
                )
                retry.extend((later, _describe(error)) for later, _email in rest)
                return True
            if _permanent(error, row.address):
                logger.info("Message %s undeliverable: %s", row.pk, _describe(error))
                undeliverable.append((row.pk, _describe(error)))
            else:
                logger.warning(
                    "Message %s not sent for now (%s); the sweep %s retries it",
                    row.pk,
                    _describe(error),
                    SWEEP,
                )
                retry.append((row, _describe(error)))
            return False

        with _commits_for_marks(), _Marks(smtp is not None) as marks:
            for position, (row, email) in enumerate(outgoing):
                try:
                    if smtp is None:
                        # An e-mail service, development's files, the tests' memory.
                        connection.send_messages([email])
                    else:
                        envelope = ahead.pop(position, None) or prepare(position)
                        if isinstance(envelope, Exception):
                            raise envelope
                        _begin(smtp, envelope)
                        # The previous message's mark is written before this one can be
                        # delivered.
                        marks.commit()
                        _data(smtp, envelope)
                        if position + 1 < len(outgoing):
                            ahead[position + 1] = prepare(position + 1)
                        _accepted(smtp)
                except DatabaseError:
                    raise  # a mark that failed: the database's fault, not this message's
                except Exception as error:
                    if failed(position, error):
                        break
                    continue
                _mark_sent(row, email)
                sent += 1
    finally:
        try:
            connection.close()
        except (OSError, smtplib.SMTPException):
            logger.debug("Closing the SMTP connection failed", exc_info=True)
        claims.mark_cancelled(Message, cancelled)
        for pk, refusal in undeliverable:
            claims.mark_undeliverable(Message, pk, refusal)
        for reason in {reason for _row, reason in retry}:
            claims.mark_retry(
                Message, [(r.pk, r.attempts) for r, why in retry if why == reason], reason, now
            )
        # Last: a carrier sent in this very batch is marked already.
        claims.follow_carriers(Message, [(row.pk, by) for row, by in carried], now)
    return sent
