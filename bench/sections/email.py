"""Section 5, the e-mail pipeline: invitations through the outbox to an SMTP sink."""

from __future__ import annotations

import contextlib
import os
import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

from bench.common import analyze, measured, peak_memory, truncate

SMTP_PORT = int(os.environ.get("BENCH_SMTP_PORT", "8825"))


def build_invitations(n: int) -> Any:
    """n classic dossiers of 3 fields, their invitations queued in the outbox."""
    from dossiers.opening import open_dossiers
    from organizations.models import Organization
    from profiles.models import DataField, Kind, Profile

    truncate("outbox_message", "profiles_profile", "organizations_organization")
    org = Organization.objects.create(name="Mail", slug="mail")
    fields = [
        DataField.objects.create(
            organization=org, applies_to=Kind.CONTACT, label=f"F{i}", type="text", position=i
        )
        for i in range(3)
    ]
    for start in range(0, n, 2000):
        profiles = Profile.objects.bulk_create(
            Profile(
                organization=org,
                kind=Kind.CONTACT,
                last_name=f"P{i}",
                email=f"p{i}@example.org",
                language="en",
            )
            for i in range(start, min(n, start + 2000))
        )
        open_dossiers(org, [p.pk for p in profiles], fields, kind="classic", title="KYC")
    analyze()
    return org


@contextlib.contextmanager
def smtp_sink() -> Iterator[None]:
    """aiosmtpd taking every message and keeping none, on loopback."""
    from django.conf import settings

    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{SMTP_PORT}",
        ],
        stdout=subprocess.DEVNULL,
    )
    saved = {
        k: getattr(settings, k, None)
        for k in ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "EMAIL_USE_SSL")
    }
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), smtplib.SMTP("127.0.0.1", SMTP_PORT) as probe:
                probe.noop()
                break
            time.sleep(0.1)
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", SMTP_PORT
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        yield
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        server.terminate()
        server.wait(timeout=30)


def requeue() -> None:
    from django.utils import timezone

    from dossiers.models import AccessToken
    from outbox.models import Message

    truncate("dossiers_accesstoken")
    assert not AccessToken.objects.exists()
    Message.objects.update(
        status=Message.Status.QUEUED, attempts=0, done_at=None, next_attempt_at=timezone.now()
    )


def warm() -> None:
    """What a worker loads once, with its first message, and the floor finds loaded: the
    URLconf, which the links' address needs (a third of a second, as much as sending a few
    hundred messages). Left in, it was timed against ours only: the floor renders after."""
    from dossiers.emails import portal_url

    portal_url("warm-up")


def drain() -> int:
    from django.conf import settings

    from outbox.mail import send_due

    with mock.patch.object(settings, "OUTBOX_DRAIN_SECONDS", 3600):
        return send_due()


def floor_smtplib(messages: Any, n: int) -> float:
    """The first n of `messages` (a query of outbox rows of one kind), rendered beforehand,
    sent over one smtplib connection: messages/s. The floor of every e-mail section."""
    from django.conf import settings

    from outbox import registry
    from outbox.mail import message_id

    prepared = []
    rows = messages.select_related("organization", *registry.related()).order_by("id")[:n]
    for start in range(0, n, 1000):
        chunk = list(rows[start : start + 1000])
        if not chunk:
            break
        render_batch = registry.render_batch(chunk[0].kind)
        assert render_batch is not None
        emails = render_batch(chunk)
        for row in chunk:
            email = emails[row.pk]
            assert email is not None and not isinstance(email, registry.Carried)
            email.to = [row.address]
            email.extra_headers["Message-ID"] = message_id(row.key)
            # Django's MIME classes take the line ending that SMTP wants.
            message: Any = email.message()
            body = message.as_bytes(linesep="\r\n")
            prepared.append((email.from_email, [row.address], body))
    began = time.perf_counter()
    with smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT) as smtp:
        for sender, to, body in prepared:
            smtp.sendmail(sender, to, body)
    return len(prepared) / (time.perf_counter() - began)


def floor_email(n: int) -> float:
    """The invitations, rendered beforehand, sent over one smtplib connection: msgs/s."""
    from outbox.models import Message

    return floor_smtplib(Message.objects.all(), n)


def bench_email(sizes: list[int]) -> list[dict[str, Any]]:
    from django.conf import settings
    from django_scopes import scope

    from outbox.models import Message

    rows = []
    with smtp_sink():
        for n in sizes:
            org = build_invitations(n)
            assert Message.objects.filter(status=Message.Status.QUEUED).count() == n
            warm()
            with measured() as ours:
                sent = drain()
            assert sent == n, (sent, n)
            requeue()
            memory = peak_memory(drain)
            requeue()
            with scope(organization=org):
                floor = floor_email(n)
            rows.append(
                {
                    "n": n,
                    "ours_rate": n / ours["seconds"],
                    "ours_queries": ours["queries"],
                    "ours_memory": memory,
                    "floor_rate": floor,
                    "batch": settings.OUTBOX_BATCH_SIZE,
                }
            )
            print(f"e-mail {n}: {rows[-1]['ours_rate']:,.0f} messages/s", flush=True)
    return rows


def render_email(email: list[dict]) -> list[str]:
    lines = [
        "## 5. The e-mail pipeline: invitations through the outbox",
        "",
        "N classic dossiers of 3 fields, their invitations queued by the fan-out, then sent to"
        " an aiosmtpd sink on loopback (`aiosmtpd.handlers.Sink`, on the same 2 cores). Ours"
        " is `outbox.mail.send_due`: claim a batch (`outbox.claims.claim`, `SKIP LOCKED`),"
        " render it at once (`dossiers.messages.LINK_RELATED` loaded with the rows, the"
        " tokens in one `bulk_create`, the asked fields in one query, each template and"
        " language rendered once by `dossiers.emails.LinkMessages` with holes for the name and"
        " the link and put in MIME form once by `outbox.shared.SharedEmail`), then send each"
        " message over the batch's one SMTP connection, the next one put in MIME form while the"
        " server reads it, and mark it sent as the server accepts it: the mark goes out in"
        " psycopg's pipeline mode while the next message's envelope (MAIL, RCPT) goes out, and"
        " is committed before that message's DATA (`synchronous_commit` off for those marks)."
        " Both sides are timed with the URLconf loaded (`warm`)."
        " The floor sends the same messages, rendered beforehand, over one `smtplib`"
        " connection.",
        "",
        "| messages | ours (messages/s) | floor (messages/s) | ours ÷ floor (target ≥ 0.5) |"
        " queries (ours) | queries per message | peak memory (ours) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in email:
        lines.append(
            f"| {row['n']:,} | {row['ours_rate']:,.0f} | {row['floor_rate']:,.0f} |"
            f" {row['ours_rate'] / row['floor_rate']:.2f} | {row['ours_queries']:,} |"
            f" {row['ours_queries'] / row['n']:.1f} | {row['ours_memory']:.1f} MB |"
        )
    lines += [
        "",
        f"Batches of {email[0]['batch']} messages (`OUTBOX_BATCH_SIZE`), one SMTP connection"
        f" each. Peak memory moves by {email[-1]['ours_memory'] - email[0]['ours_memory']:.1f}"
        f" MB from {email[0]['n']:,} to {email[-1]['n']:,} messages.",
        "",
    ]
    return lines
