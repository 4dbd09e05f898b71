"""The e-mail outbox: queued in the caller's transaction, drained by claim → send → mark."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import smtplib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.core.mail.message import sanitize_address
from django.core.mail.utils import DNS_NAME
from django.db import connection as django_connection
from django.db import transaction
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


def _deliver(connection: BaseEmailBackend, email: EmailMessage, senders: dict[str, str]) -> None:
    """What Django's SMTP backend does for one message, except that it parses the sender's
    address anew each time, which for "Organisation via Back office <…>" costs more than the
    rest of the message: here it is parsed once per sender and batch."""
    if not isinstance(connection, SMTPBackend) or connection.connection is None:
        connection.send_messages([email])
        return
    encoding = email.encoding or settings.DEFAULT_CHARSET
    if email.from_email not in senders:
        senders[email.from_email] = sanitize_address(email.from_email, encoding)
    # Django's MIME classes take the line ending that SMTP wants.
    message: Any = email.message()
    connection.connection.sendmail(
        senders[email.from_email],
        [recipient(address, encoding) for address in email.recipients()],
        message.as_bytes(linesep="\r\n"),
    )


def _provider_id(email: EmailMessage) -> str:
    """The id an e-mail service (django-anymail) gave the message; empty over SMTP."""
    status = getattr(email, "anymail_status", None)
    found = getattr(status, "message_id", None)
    return found if isinstance(found, str) else ""


def _mark_sent(row: Message, email: EmailMessage) -> None:
    provider_id = _provider_id(email)[:255]
    if not provider_id:
        claims.mark_sent(Message, row.pk)
        return
    Message.objects.filter(pk=row.pk).update(
        status=Message.Status.SENT, done_at=timezone.now(), last_error="", provider_id=provider_id
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
    rows = list(
        Message.objects.filter(pk__in=ids)
        .select_related("organization", *registry.related())
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
        emails = _render(rows)
        with _commits_for_marks():
            for position, row in enumerate(rows):
                email = emails[row.pk]
                if isinstance(email, Exception):
                    retry.append((row, _describe(email)))
                    continue
                if email is None:
                    cancelled.append(row.pk)
                    continue
                if isinstance(email, registry.Carried):
                    carried.append((row, email.by))
                    continue
                email.to = [row.address]
                for name, value in AUTOMATIC_HEADERS.items():
                    email.extra_headers.setdefault(name, value)
                email.extra_headers["Message-ID"] = message_id(row.key)
                try:
                    _deliver(connection, email, senders)
                except Exception as error:
                    if _connection_lost(error):
                        # The server went away: this message and the rest of the batch wait.
                        rest = rows[position:]
                        logger.warning(
                            "SMTP connection lost (%s); %d messages wait for the sweep %s",
                            _describe(error),
                            len(rest),
                            SWEEP,
                        )
                        for later in rest:
                            outcome = emails[later.pk]
                            if outcome is None:
                                cancelled.append(later.pk)
                            elif isinstance(outcome, registry.Carried):
                                carried.append((later, outcome.by))
                            else:
                                cause = outcome if isinstance(outcome, Exception) else error
                                retry.append((later, _describe(cause)))
                        break
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
                else:
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
