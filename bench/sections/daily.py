"""The requests of the day: a morning's update requests of several groups through the outbox
as one e-mail per recipient (`dossiers.daily`), to an SMTP sink, beside the smtplib floor.

Section 10 of the report; `python -m bench --section daily` runs it alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

from bench.common import analyze, measured, truncate
from bench.sections.email import floor_smtplib, smtp_sink, warm

GROUPS = 3


def build_morning(requests: int, recipients: int) -> Any:
    """`recipients` contacts asked `requests` update requests in all, by three groups opened
    one after the other (each asks the first contacts, as many as remain to ask)."""
    from dossiers.opening import open_dossiers
    from monitoring.models import UpdateGroup
    from organizations.models import Organization
    from profiles.models import DataField, Kind, Profile

    truncate("outbox_message", "profiles_profile", "organizations_organization")
    org = Organization.objects.create(name="Morning", slug="morning")
    profiles = []
    for start in range(0, recipients, 2000):
        profiles += Profile.objects.bulk_create(
            Profile(
                organization=org,
                kind=Kind.CONTACT,
                last_name=f"P{i}",
                email=f"p{i}@example.org",
                language="en",
            )
            for i in range(start, min(recipients, start + 2000))
        )
    ids = [p.pk for p in profiles]
    left = requests
    for g in range(GROUPS):
        field = DataField.objects.create(
            organization=org, applies_to=Kind.CONTACT, label=f"F{g}", type="text", position=g
        )
        group = UpdateGroup(
            organization=org,
            title=f"Group {g}",
            applies_to=Kind.CONTACT,
            start_date=dt.date(2024, 1, 31),
            interval_count=1,
            interval_unit="months",
        )
        group.schedule_from()
        group.save()
        asked = ids[: min(len(ids), left)]
        left -= len(asked)
        for start in range(0, len(asked), 2000):
            open_dossiers(
                org,
                asked[start : start + 2000],
                [field],
                kind="update",
                title=group.title,
                update_group_id=group.pk,
                period=dt.date(2028, 2, 29),
            )
    assert left == 0, "more requests than the groups can ask of the recipients"
    analyze()
    return org


def drain_morning() -> int:
    """The drain once the invitations are due, and again once those carried have their
    carrier's outcome: what goes out for the morning."""
    from django.conf import settings
    from django.utils import timezone

    from outbox.mail import send_due

    later = timezone.now() + dt.timedelta(seconds=settings.DOSSIERS_DAILY_SETTLE_SECONDS + 60)
    with mock.patch.object(settings, "OUTBOX_DRAIN_SECONDS", 3600):
        sent = send_due(now=later)
        return sent + send_due(now=later + dt.timedelta(minutes=10))


def floor_daily(n: int) -> float:
    """The day's e-mails rendered beforehand, sent over one smtplib connection: msgs/s."""
    from dossiers.daily import DAILY
    from outbox.models import Message

    return floor_smtplib(Message.objects.filter(kind=DAILY), n)


def bench_daily(sizes: list[tuple[int, int]]) -> list[dict[str, Any]]:
    from django_scopes import scope

    from dossiers.daily import DAILY
    from dossiers.messages import INVITATION
    from outbox.models import Message

    rows = []
    with smtp_sink():
        for requests, recipients in sizes:
            org = build_morning(requests, recipients)
            warm()
            with measured() as ours:
                sent = drain_morning()
            assert sent == recipients, (sent, recipients)
            invitations = Message.objects.filter(kind=INVITATION)
            assert invitations.filter(status=Message.Status.SENT).count() == requests
            assert Message.objects.filter(kind=DAILY).count() == recipients
            with scope(organization=org):
                floor = floor_daily(recipients)
            rows.append(
                {
                    "requests": requests,
                    "recipients": recipients,
                    "ours_rate": recipients / ours["seconds"],
                    "ours_seconds": ours["seconds"],
                    "ours_queries": ours["queries"],
                    "floor_rate": floor,
                }
            )
            print(
                f"requests of the day {requests}/{recipients}:"
                f" {rows[-1]['ours_rate']:,.0f} e-mails/s, floor {floor:,.0f}",
                flush=True,
            )
    return rows


def render_daily(daily: list[dict]) -> list[str]:
    lines = [
        "## 10. The requests of the day: one e-mail per recipient",
        "",
        "A morning's update requests of three groups, opened one after the other by the"
        " fan-out, their invitations held back `DOSSIERS_DAILY_SETTLE_SECONDS`; then the"
        " drain (`outbox.mail.send_due`) forms each recipient's day in a handful of statements"
        " per batch (`dossiers.daily.carry_invitations`), sends the day's one e-mail per"
        " recipient (rendered once per shape by `dossiers.emails.DailyMessages`) to an"
        " aiosmtpd sink. The first invitation of a day claimed forms it; the day's other"
        " invitations are carried from then on (`outbox.models.Message.carried_by`,"
        " `outbox.claims.carry`) and not claimed, and the day's e-mail's mark writes their"
        " outcome in the same statement. Ours counts every row: the first invitation of each"
        " day, claimed once, and the day's e-mails. The floor sends the day's e-mails, rendered"
        " beforehand, over one `smtplib` connection (`bench.sections.email.floor_smtplib`).",
        "",
        "| requests | recipients (e-mails) | ours (e-mails/s) | floor (e-mails/s) |"
        " ours ÷ floor (target ≥ 0.5) | queries (ours) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in daily:
        lines.append(
            f"| {row['requests']:,} | {row['recipients']:,} | {row['ours_rate']:,.0f} |"
            f" {row['floor_rate']:,.0f} | {row['ours_rate'] / row['floor_rate']:.2f} |"
            f" {row['ours_queries']:,} |"
        )
    return [*lines, ""]
