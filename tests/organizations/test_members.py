from __future__ import annotations

import datetime as dt
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from organizations.models import AuditEntry, Invitation, Membership
from outbox.mail import send_due

pytestmark = pytest.mark.django_db


def _membership(user):
    with scopes_disabled():
        return Membership.objects.get(user=user)


def _invite(owner_client, org, email, **extra):
    response = owner_client.post(
        f"/o/{org.slug}/settings/members/", {"email": email, "role": "staff", **extra}
    )
    send_due()  # the outbox drain, as the worker runs it
    return response


def _link(message) -> str:
    return re.search(r"http://testserver(\S+)", message.body).group(1)


def test_a_new_person_accepts_by_creating_an_account(owner_client, org, settings):
    settings.SITE_URL = "http://testserver"
    response = _invite(
        owner_client, org, "New.Person@Example.com", first_name="New", last_name="Person"
    )
    assert response.status_code == 302
    assert not get_user_model().objects.filter(email="new.person@example.com").exists()
    [message] = mail.outbox
    assert message.to == ["new.person@example.com"] and "Acme" in message.subject

    client = Client()
    page = client.get(_link(message))
    assert page.status_code == 200
    assert page.context["form"].initial["first_name"] == "New"
    response = client.post(
        _link(message),
        {
            "first_name": "New",
            "last_name": "Person",
            "password1": "a-long-pass-phrase-42",
            "password2": "a-long-pass-phrase-42",
        },
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(email="new.person@example.com")
    assert _membership(user).role == "staff"
    assert client.get(f"/o/{org.slug}/contacts/").status_code == 200
    login = Client().post(
        "/login/", {"username": "new.person@example.com", "password": "a-long-pass-phrase-42"}
    )
    assert login.status_code == 302
    # The link is used up.
    assert Client().get(_link(message)).status_code == 404
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="organizations.member.invited").exists()
        assert AuditEntry.objects.filter(action="organizations.member.added", user=user).exists()


def test_a_new_account_needs_a_good_password(org, owner_client, settings):
    settings.SITE_URL = "http://testserver"
    _invite(owner_client, org, "new@example.com")
    response = Client().post(_link(mail.outbox[0]), {"password1": "short", "password2": "short"})
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert not get_user_model().objects.filter(email="new@example.com").exists()


def test_adding_an_existing_account_attaches_nobody(owner_client, org, outsider, settings):
    # Another organisation's user: the admin learns nothing, and nothing changes for them
    # until they accept while logged in to their own account.
    settings.SITE_URL = "http://testserver"
    response = _invite(owner_client, org, outsider.email)
    unknown = _invite(owner_client, org, "nobody-at-all@example.com")
    with scopes_disabled():
        assert Membership.objects.filter(user=outsider).count() == 1
    [message_known, message_unknown] = mail.outbox
    assert [m.to for m in mail.outbox] == [[outsider.email], ["nobody-at-all@example.com"]]
    # Same answer and the same e-mail, whether or not the address has an account.
    assert response.status_code == unknown.status_code == 302
    assert message_known.subject == message_unknown.subject
    followed = owner_client.get(response.url)
    assert followed.text.count(outsider.email) == followed.text.count("nobody-at-all@example.com")

    # Not logged in: asked to log in, not attached.
    anonymous = Client().get(_link(message_known))
    assert anonymous.status_code == 302 and "/login/" in anonymous.url
    # Logged in as someone else: refused.
    assert owner_client.get(_link(message_known)).status_code == 403
    # Logged in as the invited account: confirms, then belongs.
    client = Client()
    client.force_login(outsider)
    assert client.get(_link(message_known)).status_code == 200
    with scopes_disabled():
        assert Membership.objects.filter(user=outsider).count() == 1
    assert client.post(_link(message_known)).status_code == 302
    with scopes_disabled():
        assert Membership.objects.get(user=outsider, organization=org).role == "staff"


def test_the_name_of_an_existing_account_never_reaches_the_admin(owner_client, org, outsider):
    outsider.first_name, outsider.last_name = "Victor", "Victim"
    outsider.save()
    response = _invite(owner_client, org, outsider.email)
    page = owner_client.get(response.url)
    assert "Victim" not in page.text


def test_a_second_invitation_replaces_the_first(owner_client, org, settings):
    settings.SITE_URL = "http://testserver"
    _invite(owner_client, org, "new@example.com")
    _invite(owner_client, org, "new@example.com")
    first, second = mail.outbox
    assert Client().get(_link(first)).status_code == 404
    assert Client().get(_link(second)).status_code == 200


def test_an_invitation_can_be_cancelled(owner_client, org, settings):
    settings.SITE_URL = "http://testserver"
    _invite(owner_client, org, "new@example.com")
    with scopes_disabled():
        invitation = Invitation.objects.get()
    assert "new@example.com" in owner_client.get(f"/o/{org.slug}/settings/").text
    response = owner_client.post(f"/o/{org.slug}/settings/invitations/{invitation.uuid}/cancel/")
    assert response.status_code == 302
    assert Client().get(_link(mail.outbox[0])).status_code == 404


def test_an_expired_invitation_is_refused(owner_client, org, settings):
    settings.SITE_URL = "http://testserver"
    _invite(owner_client, org, "new@example.com")
    with scopes_disabled():
        Invitation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert Client().get(_link(mail.outbox[0])).status_code == 404


def test_a_long_address_or_a_name_with_a_line_break_is_refused_before_anything_is_saved(
    owner_client, org
):
    response = _invite(owner_client, org, "a" * 140 + "@example.com")
    assert response.status_code == 200
    assert response.context["member_form"].errors["email"]
    response = owner_client.post(
        f"/o/{org.slug}/settings/",
        {
            "name": "Acme\r\nBcc: x@example.com",
            "time_zone": "Europe/Paris",
            "default_language": "en",
            "date_style": "iso",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["name"]
    with scopes_disabled():
        assert not Invitation.objects.exists()
    org.refresh_from_db()
    assert org.name == "Acme"


def test_an_apostrophe_in_the_subject_is_not_escaped(owner_client, org, settings):
    org.name = "O'Brien & Co"
    org.save()
    _invite(owner_client, org, "new@example.com")
    assert "O'Brien & Co" in mail.outbox[0].subject


def test_a_member_cannot_be_added_twice(owner_client, org, member):
    response = owner_client.post(
        f"/o/{org.slug}/settings/members/", {"email": member.email.upper(), "role": "staff"}
    )
    assert response.status_code == 200
    assert response.context["member_form"].errors["email"]


def test_roles_change_but_the_last_admin_stays(owner_client, org, owner, member):
    mine = _membership(owner)
    owner_client.post(f"/o/{org.slug}/settings/members/{mine.uuid}/role/", {"role": "staff"})
    assert _membership(owner).role == "admin"
    owner_client.post(f"/o/{org.slug}/settings/members/{mine.uuid}/remove/")
    assert _membership(owner).role == "admin"
    theirs = _membership(member)
    owner_client.post(f"/o/{org.slug}/settings/members/{theirs.uuid}/role/", {"role": "admin"})
    assert _membership(member).role == "admin"
    owner_client.post(f"/o/{org.slug}/settings/members/{theirs.uuid}/remove/")
    with scopes_disabled():
        assert not Membership.objects.filter(user=member).exists()


def test_a_forgotten_password_is_reset_by_e_mail(org, owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/password/reset/", {"email": owner.email})
    assert response.status_code == 302
    [message] = mail.outbox
    assert "/password/reset/" in message.body


def test_members_pages_speak_french(owner_client, org):
    owner_client.cookies.load({"django_language": "fr"})
    response = owner_client.get(f"/o/{org.slug}/settings/")
    assert "Ajouter un membre" in response.text
