"""A batch of link messages: its queries, the e-mails it builds, and its faults on a real
SMTP server (aiosmtpd on loopback, stopped for real)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import threading

import pytest
from django.core import mail
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django_scopes import scope, scopes_disabled

from dossiers import emails
from dossiers.messages import LINK_TEMPLATES, RESEND, queue_link_messages
from dossiers.models import AccessToken, Dossier, DossierItem, ItemReview
from organizations.display import style_of
from outbox.headers import AUTOMATIC_HEADERS
from outbox.mail import message_id, send_due
from outbox.models import Message
from profiles.models import Kind, Profile
from tests import factories
from tests.outbox.test_smtp import _invite

pytestmark = pytest.mark.django_db


def _drain_queries(org, count: int) -> int:
    _invite(org, [f"q{count}-{i}@example.com" for i in range(count)])
    with CaptureQueriesContext(connection) as queries:
        assert send_due() == count
    return len(queries)


def test_a_batch_reads_and_writes_in_a_constant_number_of_statements_plus_one_mark_each(org):
    """The claim (3, in a savepoint here), the rows (1), their failing addresses (1), their
    tokens (1), items (1) and fields (1), the claim that finds nothing more (1, in a
    savepoint), and on PostgreSQL the marks' commit mode set and reset (2); then one mark
    per message sent, so that a worker killed mid-batch sends again at most the one message
    in flight."""
    base = 13 + (2 if connection.vendor == "postgresql" else 0)
    assert _drain_queries(org, 5) == base + 5
    assert _drain_queries(org, 40) == base + 40


def test_link_messages_of_every_kind_share_the_batchs_statements(org):
    field = factories.field(org, "text")
    person = factories.contact(org, email="all@example.com")
    dossier = factories.dossier(org, person, [field])  # its invitation is queued
    with scopes_disabled():
        Dossier.objects.filter(pk=dossier.pk).update(status=Dossier.Status.CHANGES_REQUESTED)
    queue_link_messages([dossier.pk], RESEND, again=True)
    queue_link_messages([dossier.pk], "dossiers.reminder", suffix=":now")
    queue_link_messages([dossier.pk], "dossiers.changes_requested", again=True)
    with CaptureQueriesContext(connection) as queries:
        assert send_due() == 4
    # As above, plus the resent link's replacing of the older ones.
    assert len(queries) == 13 + 1 + (2 if connection.vendor == "postgresql" else 0) + 4
    with scopes_disabled():
        tokens = list(AccessToken.objects.order_by("id").values_list("replaced_at", flat=True))
    # Rendered in the order they were queued: the invitation's link was replaced, not the
    # links issued after the one sent again.
    assert tokens[0] is not None and tokens[1:] == [None, None, None]


# The same e-mails as one rendered for each reader --------------------------------------------


def _direct(dossier, person, template, url, rejected) -> tuple[str, str, str]:
    """The templates rendered with the real objects, as before batches existed."""
    org = dossier.organization
    context = {
        "dossier": dossier,
        "organization": org,
        "recipient": person,
        "fields": emails.asked_fields(dossier),
        "url": url,
        "rejected": rejected,
    }
    with translation.override(person.language), timezone.override(org.tzinfo), style_of(org):
        subject = " ".join(
            render_to_string(f"dossiers/email/{template}_subject.txt", context).split()
        )
        body = render_to_string(f"dossiers/email/{template}.txt", context)
        html = render_to_string(
            f"dossiers/email/{template}.html",
            {**context, "subject": subject, "language": person.language},
        )
    return subject, body, html


@pytest.mark.parametrize("template", sorted(set(LINK_TEMPLATES.values())))
@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_readers_copy_is_the_e_mail_rendered_for_that_reader(org, template, language):
    org.name = "L'Atelier & <Cie>"
    org.contact_email = "hello@atelier.example"
    org.save()
    fields = [
        factories.field(
            org, "text", label="Home address", translations={"fr": {"label": "Adresse"}}
        ),
        factories.field(org, "document", label="Proof"),
    ]
    people = [
        factories.contact(
            org,
            first_name="Zoë",
            last_name="O'Brien & <Co>",
            language=language,
            email="zoe@example.com",
        ),
        factories.contact(
            org, first_name="Al", last_name="Smith", language=language, email="al@example.com"
        ),
    ]
    mailer = emails.LinkMessages()
    for number, person in enumerate(people):
        dossier = factories.dossier(org, person, fields, message="Line one\nLine <two>")
        with scope(organization=org):
            DossierItem.objects.filter(dossier=dossier, field=fields[1]).update(
                review=ItemReview.REJECTED, rejection_reason="Blurry & old"
            )
            dossier.status = Dossier.Status.CHANGES_REQUESTED
            items = list(dossier.items.filter(review=ItemReview.REJECTED).select_related("field"))
            token = f"token{number}-_x"
            copy = mailer.message(
                dossier,
                person,
                template,
                token,
                emails.asked_fields(dossier),
                [emails.AskedAgain(i.field, i.rejection_reason) for i in items],
            )
            subject, body, html = _direct(
                dossier, person, template, emails.portal_url(token), items
            )
        assert (copy.subject, copy.body, copy.alternatives[0][0]) == (subject, body, html)
        assert copy.from_email == emails.sender(org)
        assert person.first_name in copy.body and emails.portal_url(token) in copy.body

        # Its MIME form, filled in from the shared one, reads as the one Django builds.
        copy.to = [person.email]
        copy.extra_headers.update(AUTOMATIC_HEADERS)
        copy.extra_headers["Message-ID"] = message_id(f"k{number}")
        if person.first_name.isascii():
            # The fast path, Reply-To and all (a non-ASCII name in a 7-bit part takes the other).
            assert copy.shared.flattened(copy) is not None
        fast = email.message_from_bytes(
            copy.message().as_bytes(linesep="\r\n"), policy=email.policy.default
        )
        built = email.message_from_bytes(
            super(type(copy), copy).message().as_bytes(linesep="\r\n"),
            policy=email.policy.default,
        )
        for header in (
            "Subject",
            "From",
            "To",
            "Reply-To",
            "Message-ID",
            "Auto-Submitted",
            "X-Auto-Response-Suppress",
            "MIME-Version",
            "Content-Type",
        ):
            assert str(fast[header]).split(";")[0] == str(built[header]).split(";")[0]
        fast_parts = [
            (p.get_content_type(), p["Content-Transfer-Encoding"], p.get_content())
            for p in fast.iter_parts()
        ]
        built_parts = [
            (p.get_content_type(), p["Content-Transfer-Encoding"], p.get_content())
            for p in built.iter_parts()
        ]
        assert fast_parts == built_parts


# Faults of a real server ----------------------------------------------------------------------


def test_the_server_going_down_mid_batch_leaves_every_message_delivered_or_waiting(org, smtp):
    """Stopped after accepting the 12th message of 30, then started again: the 11 before it
    are marked sent, none is lost, and at most the one in flight goes out twice."""
    addresses = [f"d{i}@example.com" for i in range(30)]
    in_flight: list[str] = []

    def stop_at_the_12th(received: int) -> None:
        if received == 12 and not in_flight:
            in_flight.append(smtp.handler.received[-1][0])
            threading.Thread(target=smtp.stop).start()

    smtp.handler.on_data = stop_at_the_12th
    _invite(org, addresses)
    start = timezone.now()
    first = send_due(now=start)
    assert first in (11, 12)
    with scopes_disabled():
        waiting = Message.objects.filter(status="queued")
        assert waiting.count() == 30 - first
        assert {m.last_error.split(":")[0] for m in waiting} <= {
            "SMTPServerDisconnected",
            "ConnectionResetError",
            "BrokenPipeError",
        }
    smtp.handler.on_data = None
    smtp.start()
    assert send_due(now=start + dt.timedelta(minutes=2)) == 30 - first
    with scopes_disabled():
        assert set(Message.objects.values_list("status", flat=True)) == {"sent"}
    counts = smtp.handler.counts()
    assert set(counts) == set(addresses)
    assert [a for a, n in counts.items() if n > 1] in ([], in_flight)


def test_a_refused_recipient_mid_batch_is_shown_and_the_others_are_sent_once(org, smtp):
    addresses = [f"r{i}@example.com" for i in range(20)]
    smtp.handler.refused.add("r7@example.com")
    smtp.handler.deferred.add("r13@example.com")
    _invite(org, addresses)
    assert send_due() == 18
    with scopes_disabled():
        statuses = dict(Message.objects.values_list("address", "status"))
        refused = Message.objects.get(address="r7@example.com")
        deferred = Message.objects.get(address="r13@example.com")
    assert statuses.pop("r7@example.com") == "undeliverable" and "550" in refused.last_error
    assert statuses.pop("r13@example.com") == "queued" and "451" in deferred.last_error
    assert set(statuses.values()) == {"sent"}
    assert set(smtp.handler.counts().values()) == {1}


def test_a_batch_whose_batch_rendering_fails_is_rendered_message_by_message(org, monkeypatch):
    from outbox import registry

    def broken(rows):
        raise RuntimeError("batch bug")

    with scopes_disabled():
        profiles = Profile.objects.bulk_create(
            Profile(organization=org, kind=Kind.CONTACT, email=f"b{i}@example.com")
            for i in range(3)
        )
    original = registry.render_batch
    monkeypatch.setattr(registry, "render_batch", lambda kind: broken if original(kind) else None)
    field = factories.field(org, "text")
    for person in profiles:
        factories.dossier(org, person, [field])
    assert send_due() == 3
    assert sorted(m.to[0] for m in mail.outbox) == [f"b{i}@example.com" for i in range(3)]
