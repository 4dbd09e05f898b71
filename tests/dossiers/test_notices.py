"""Staff notices: each member chooses every submission, a daily digest, or nothing."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.core import mail
from django_scopes import scopes_disabled

from dossiers.messages import queue_digests
from dossiers.models import Dossier
from organizations.models import Membership
from outbox.mail import send_due
from outbox.models import Message
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def _submit(client, org) -> Dossier:
    field = factories.field(org, "text")
    profile = factories.contact(org, email="client@example.com")
    dossier = factories.dossier(org, profile, [field])
    response = client.post(
        f"/d/{factories.token(dossier)}/", {f"f_{field.uuid.hex}": "x", "action": "submit"}
    )
    assert response.status_code == 302
    return dossier


def test_each_submission_goes_only_to_members_who_want_each(client, org, owner, member):
    eager = make_member(org, "eager", Membership.Role.STAFF)
    with scopes_disabled():
        Membership.objects.filter(user=eager).update(notices="each")
    _submit(client, org)
    with scopes_disabled():
        notices = set(
            Message.objects.filter(kind="dossiers.staff_notice").values_list("address", flat=True)
        )
    # The admin's default is the digest, the staff member's nothing.
    assert notices == {"eager@example.com"}


def test_a_daily_digest_once_a_day_at_eight_local_time(client, org, owner, time_machine):
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    seven = dt.datetime(2026, 12, 1, 7, 10, tzinfo=paris)
    eight = dt.datetime(2026, 12, 1, 8, 10, tzinfo=paris)
    # The digest counts at the moment it is sent: the clock is the drain's.
    time_machine.move_to(eight, tick=False)
    _submit(client, org)
    with scopes_disabled():
        Dossier.objects.update(submitted_at=eight - dt.timedelta(hours=2))
        assert queue_digests(seven) == 0
        assert queue_digests(eight) == 1
        assert queue_digests(eight + dt.timedelta(minutes=30)) == 0
    mail.outbox.clear()
    send_due()
    [digest] = [m for m in mail.outbox if m.to == ["owner@example.com"]]
    assert "digest" in digest.subject.lower() or "résumé" in digest.subject.lower()


def test_no_digest_when_there_is_nothing_to_say(org, owner):
    eight = dt.datetime(2026, 12, 1, 8, 10, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
    with scopes_disabled():
        assert queue_digests(eight) == 0


def test_a_member_chooses_their_notices(member_client, member, org):
    url = f"/o/{org.slug}/notices/"
    page = member_client.get(url)
    assert page.status_code == 200
    assert member_client.post(url, {"notices": "each"}).status_code == 302
    with scopes_disabled():
        assert Membership.objects.get(user=member).notices == "each"
    response = member_client.post(url, {"notices": "hourly"})
    assert response.status_code == 200
    assert response.context["form"].errors["notices"]
