"""One request per client per day: the update requests that fall due for one recipient on
one local day go out as one e-mail with one link, each dossier staying its own."""

from __future__ import annotations

import datetime as dt
import re
import smtplib
from unittest import mock

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends import locmem
from django_scopes import scopes_disabled

from dossiers.models import AccessToken, DailyRequest, Dossier, DossierMessage
from dossiers.tasks import send_reminders
from outbox.mail import send_due
from outbox.models import Message
from profiles.models import Profile
from tests import factories

pytestmark = pytest.mark.django_db

# A Monday morning in Paris, after the day's runs (08:00 local).
MORNING = dt.datetime(2028, 2, 28, 7, 5, tzinfo=dt.UTC)


@pytest.fixture
def clock():
    with time_machine.travel(MORNING, tick=False) as traveller:
        yield traveller


def _link(message) -> str:
    return re.search(r"http://\S+/d/(\S+)/", message.body).group(1)


def _open(org, profile, group, fields):
    return factories.dossier(
        org,
        profile,
        fields,
        kind=Dossier.Kind.UPDATE,
        title=group.title,
        update_group_id=group.pk,
        period=MORNING.date(),
    )


def _drain_and_settle(clock) -> int:
    """Drains; then, a few minutes on, drains again: the invitations carried by the day's
    e-mail take its outcome."""
    sent = send_due()
    clock.shift(dt.timedelta(minutes=3))
    return sent + send_due()


def _statuses(kind: str) -> list[str]:
    with scopes_disabled():
        return sorted(Message.objects.filter(kind=kind).values_list("status", flat=True))


@pytest.fixture
def two_groups(org):
    passport = factories.field(org, "text", label="Passport number")
    address = factories.field(org, "text", label="Home address")
    return {
        "passport": passport,
        "address": address,
        "identity": factories.group(org, [passport], title="Identity"),
        "residence": factories.group(org, [address], title="Residence"),
    }


def test_two_groups_due_the_same_day_send_one_email_and_one_link(
    client, org, settings, clock, two_groups
):
    settings.SITE_URL = "http://testserver"
    person = factories.contact(org, language="en", email="ada@example.com")
    first = _open(org, person, two_groups["identity"], [two_groups["passport"]])
    second = _open(org, person, two_groups["residence"], [two_groups["address"]])

    assert _drain_and_settle(clock) == 1
    [email] = mail.outbox
    assert email.to == ["ada@example.com"]
    assert "(2 requests)" in email.subject
    assert "Identity" in email.body and "Residence" in email.body
    assert "Passport number" in email.body and "Home address" in email.body
    # Each dossier keeps its invitation, sent with the day's e-mail: its follow-up, its
    # reminders and its history read it as before.
    assert _statuses("dossiers.invitation") == ["sent", "sent"]
    assert _statuses("dossiers.daily") == ["sent"]
    with scopes_disabled():
        assert set(
            DossierMessage.objects.filter(message__kind="dossiers.invitation").values_list(
                "dossier_id", flat=True
            )
        ) == {first.pk, second.pk}
    assert send_due() == 0  # nothing goes twice

    page = client.get(f"/d/{_link(email)}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Identity" in html and "Residence" in html
    assert html.index("Passport number") < html.index("Residence") < html.index("Home address")


def test_a_request_alone_on_its_day_keeps_its_own_invitation(org, clock, two_groups):
    _open(org, factories.contact(org, email="ada@example.com"), two_groups["identity"], [])
    _open(org, factories.contact(org, email="bob@example.com"), two_groups["residence"], [])
    assert _drain_and_settle(clock) == 2
    assert _statuses("dossiers.daily") == []
    with scopes_disabled():
        assert not DailyRequest.objects.exists()


def test_a_company_and_its_representative_get_one_email(org, settings, clock):
    settings.SITE_URL = "http://testserver"
    registration = factories.field(org, "text", applies_to="company", label="Registration")
    passport = factories.field(org, "text", label="Passport number")
    company_group = factories.group(org, [registration], title="Company", applies_to="company")
    person_group = factories.group(org, [passport], title="Identity")
    company = factories.company(org)
    representative = factories.contact(
        org, email="rep@example.com", company=company, is_representative=True
    )
    factories.contact(org, email="other@example.com", company=company, is_representative=True)
    _open(org, company, company_group, [registration])
    _open(org, representative, person_group, [passport])

    assert _drain_and_settle(clock) == 2
    by_to = {m.to[0]: m for m in mail.outbox}
    assert sorted(by_to) == ["other@example.com", "rep@example.com"]
    assert "Company" in by_to["rep@example.com"].body
    assert "Identity" in by_to["rep@example.com"].body
    # The other representative is asked for the company only, on its own.
    assert "Identity" not in by_to["other@example.com"].body
    assert _statuses("dossiers.invitation") == ["sent", "sent", "sent"]


def test_the_days_email_marks_its_invitations_as_it_is_marked(org, clock, two_groups):
    """Formed by the first invitation claimed, the day's e-mail carries the others waiting:
    they are not claimed again, and its mark writes their outcome."""
    people = [factories.contact(org, email=f"p{i}@example.com") for i in range(2)]
    for person in people:
        _open(org, person, two_groups["identity"], [two_groups["passport"]])
        _open(org, person, two_groups["residence"], [two_groups["address"]])
    assert send_due(batch_size=1) == 2  # one drain, no settling
    assert _statuses("dossiers.daily") == ["sent", "sent"]
    assert _statuses("dossiers.invitation") == ["sent"] * 4
    with scopes_disabled():
        days = dict(Message.objects.filter(kind="dossiers.daily").values_list("pk", "done_at"))
        invitations = list(
            Message.objects.filter(kind="dossiers.invitation").values_list(
                "carried_by", "done_at", "attempts"
            )
        )
    assert {carrier for carrier, _done, _attempts in invitations} == set(days)
    assert all(done == days[carrier] for carrier, done, _attempts in invitations)
    # The first of each day was claimed once (its claim not counted), the other never.
    assert [attempts for _carrier, _done, attempts in invitations] == [0] * 4
    assert send_due() == 0


def test_invitations_wait_for_the_days_other_groups(org, settings, clock, two_groups):
    settings.DOSSIERS_DAILY_SETTLE_SECONDS = 300
    person = factories.contact(org, email="ada@example.com")
    _open(org, person, two_groups["identity"], [two_groups["passport"]])
    assert send_due() == 0  # held back: the other group opens in a moment
    clock.shift(dt.timedelta(minutes=2))
    _open(org, person, two_groups["residence"], [two_groups["address"]])
    clock.shift(dt.timedelta(minutes=5))
    assert _drain_and_settle(clock) == 1
    assert _statuses("dossiers.invitation") == ["sent", "sent"]


def test_a_request_opened_after_the_days_email_goes_on_its_own(org, clock, two_groups):
    other = factories.field(org, "text")
    late_group = factories.group(org, [other], title="Late")
    person = factories.contact(org, email="ada@example.com")
    _open(org, person, two_groups["identity"], [two_groups["passport"]])
    _open(org, person, two_groups["residence"], [two_groups["address"]])
    assert _drain_and_settle(clock) == 1
    clock.shift(dt.timedelta(hours=3))
    _open(org, person, late_group, [other])
    assert _drain_and_settle(clock) == 1
    assert "Late" in mail.outbox[-1].body and "Identity" not in mail.outbox[-1].body


def test_a_refused_days_email_makes_its_invitations_undeliverable(org, clock, two_groups):
    person = factories.contact(org, email="ada@example.com")
    _open(org, person, two_groups["identity"], [two_groups["passport"]])
    _open(org, person, two_groups["residence"], [two_groups["address"]])
    refused = smtplib.SMTPRecipientsRefused({"ada@example.com": (550, b"no such user")})
    with mock.patch.object(locmem.EmailBackend, "send_messages", side_effect=refused):
        assert _drain_and_settle(clock) == 0
    assert _statuses("dossiers.daily") == ["undeliverable"]
    assert _statuses("dossiers.invitation") == ["undeliverable", "undeliverable"]
    with scopes_disabled():
        assert set(
            Message.objects.filter(kind="dossiers.invitation").values_list("last_error", flat=True)
        ) == {"550 no such user"}


def _field(dossier, field, name="f") -> str:
    return f"{dossier.uuid.hex}-{name}_{field.uuid.hex}"


def test_an_error_in_one_group_keeps_every_answer_and_sends_the_others(
    client, org, settings, clock
):
    settings.SITE_URL = "http://testserver"
    passport = factories.field(org, "text", label="Passport number")
    address = factories.field(org, "text", label="Home address")
    phone = factories.field(org, "text", label="Phone")
    identity_group = factories.group(org, [passport], title="Identity")
    residence_group = factories.group(org, [address, phone], title="Residence and phone")
    person = factories.contact(org, language="en", email="ada@example.com")
    identity = _open(org, person, identity_group, [passport])
    residence = _open(org, person, residence_group, [address, phone])
    _drain_and_settle(clock)
    url = f"/d/{_link(mail.outbox[0])}/"

    response = client.post(
        url,
        {
            "action": "submit",
            _field(identity, passport): "X1234567",
            _field(residence, address): "1 rue de la Paix",
            _field(residence, phone): "",  # nothing on file, nothing typed: an error
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 rue de la Paix" in html  # kept as typed
    assert "Enter a value: there is none on file to confirm." in html
    with scopes_disabled():
        identity.refresh_from_db()
        residence.refresh_from_db()
        assert identity.status in (Dossier.Status.SUBMITTED, Dossier.Status.TO_REVIEW)
        assert residence.status == Dossier.Status.OPENED
        assert identity.submitted_via == "ada@example.com"

    response = client.post(
        url,
        {
            "action": "submit",
            _field(residence, address): "1 rue de la Paix",
            _field(residence, phone): "+33 1 23 45 67 89",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        residence.refresh_from_db()
        assert residence.status in (Dossier.Status.SUBMITTED, Dossier.Status.TO_REVIEW)
    assert "Sent on" in client.get(url).content.decode()


def test_the_days_link_still_reaches_each_request_alone(client, org, settings, clock, two_groups):
    """An older single link (a link sent again for one request) keeps its own page."""
    person = factories.contact(org, language="en", email="ada@example.com")
    identity = _open(org, person, two_groups["identity"], [two_groups["passport"]])
    _open(org, person, two_groups["residence"], [two_groups["address"]])
    _drain_and_settle(clock)
    single = factories.token(identity, person)
    html = client.get(f"/d/{single}/").content.decode()
    assert "Identity" in html and "Residence" not in html


def test_a_reminder_of_the_day_is_one_email(org, clock, two_groups):
    person = factories.contact(org, language="en", email="ada@example.com")
    _open(org, person, two_groups["identity"], [two_groups["passport"]])
    _open(org, person, two_groups["residence"], [two_groups["address"]])
    _drain_and_settle(clock)
    mail.outbox.clear()
    clock.shift(dt.timedelta(days=3, hours=1))
    assert send_reminders() == 2  # each dossier's rung, as before
    assert _drain_and_settle(clock) == 1
    [reminder] = mail.outbox
    assert reminder.subject.startswith("Reminder")
    assert "Identity" in reminder.body and "Residence" in reminder.body
    assert _statuses("dossiers.reminder") == ["sent", "sent"]
    assert send_reminders() == 0


def test_the_erasure_of_the_recipient_takes_the_days_emails(org, owner, clock, two_groups):
    from django_scopes import scope

    from organizations.actors import Actor
    from profiles import actions as profile_actions

    person = factories.contact(org, email="ada@example.com")
    _open(org, person, two_groups["identity"], [two_groups["passport"]])
    _open(org, person, two_groups["residence"], [two_groups["address"]])
    _drain_and_settle(clock)
    with scope(organization=org):
        profile_actions.erase_profile(person, actor=Actor.member(owner))
    with scopes_disabled():
        assert not Message.objects.filter(address="ada@example.com").exists()
        assert not DailyRequest.objects.exists()
        assert not AccessToken.objects.exists()


def test_a_link_sent_again_for_one_request_leaves_the_days_link(
    client, org, owner, settings, clock, two_groups
):
    from django_scopes import scope

    from dossiers import actions
    from organizations.actors import Actor

    settings.SITE_URL = "http://testserver"
    person = factories.contact(org, language="en", email="ada@example.com")
    identity = _open(org, person, two_groups["identity"], [two_groups["passport"]])
    _open(org, person, two_groups["residence"], [two_groups["address"]])
    _drain_and_settle(clock)
    url = f"/d/{_link(mail.outbox[0])}/"
    with scope(organization=org):
        actions.resend_link(identity, actor=Actor.member(owner))
    send_due()
    assert len(mail.outbox) == 2
    html = client.get(url).content.decode()
    assert "Identity" in html and "Residence" in html


def test_the_days_link_of_a_former_representative_reaches_nothing(client, org, settings, clock):
    settings.SITE_URL = "http://testserver"
    registration = factories.field(org, "text", applies_to="company", label="Registration")
    other = factories.field(org, "text", applies_to="company", label="Turnover")
    company = factories.company(org)
    factories.contact(org, email="rep@example.com", company=company, is_representative=True)
    _open(org, company, factories.group(org, [registration], applies_to="company"), [registration])
    _open(org, company, factories.group(org, [other], applies_to="company"), [other])
    _drain_and_settle(clock)
    url = f"/d/{_link(mail.outbox[0])}/"
    assert client.get(url).status_code == 200
    with scopes_disabled():
        Profile.objects.filter(company=company).update(is_representative=False)
    assert client.get(url).status_code == 404


def _drain_queries(org, clock, two_groups, people: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(people):
        person = factories.contact(org, email=f"p{i}@example.com")
        _open(org, person, two_groups["identity"], [two_groups["passport"]])
        _open(org, person, two_groups["residence"], [two_groups["address"]])
    with CaptureQueriesContext(connection) as queries:
        sent = _drain_and_settle(clock)
    assert sent == people
    return len(queries)


def test_the_days_emails_take_the_same_queries_for_two_recipients_or_six(
    org, other_org, clock, two_groups
):
    few = _drain_queries(org, clock, two_groups, 2)
    with scopes_disabled():
        Message.objects.all().delete()
    mail.outbox.clear()
    passport = factories.field(other_org, "text")
    address = factories.field(other_org, "text")
    others = {
        "passport": passport,
        "address": address,
        "identity": factories.group(other_org, [passport], title="Identity"),
        "residence": factories.group(other_org, [address], title="Residence"),
    }
    # Only the mark of each e-mail sent, a statement each as for every message, grows.
    assert _drain_queries(other_org, clock, others, 6) == few + 4
