from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from django_scopes import scopes_disabled

from organizations.models import AuditEntry, Membership
from outbox.mail import send_due

pytestmark = pytest.mark.django_db


def _membership(user):
    with scopes_disabled():
        return Membership.objects.get(user=user)


def test_an_admin_adds_a_new_person_who_chooses_a_password(owner_client, org, settings):
    settings.SITE_URL = "http://testserver"
    response = owner_client.post(
        f"/o/{org.slug}/settings/members/",
        {
            "email": "New.Person@Example.com",
            "first_name": "New",
            "last_name": "Person",
            "role": "staff",
        },
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(email="new.person@example.com")
    assert not user.has_usable_password()
    assert _membership(user).role == "staff"
    send_due()  # the outbox drain, as the worker runs it
    [message] = mail.outbox
    assert message.to == ["new.person@example.com"] and "Acme" in message.subject
    link = re.search(r"http://testserver(\S+)", message.body).group(1)

    client = Client()
    form = client.get(link, follow=True)
    assert form.status_code == 200 and form.context["validlink"]
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-long-pass-phrase-42", "new_password2": "a-long-pass-phrase-42"},
    )
    assert response.status_code == 302
    assert client.login(username="new.person@example.com", password="a-long-pass-phrase-42")
    assert client.get(f"/o/{org.slug}/contacts/").status_code == 200
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="member.added").exists()


def test_adding_an_existing_user_sends_no_password_link(owner_client, org, outsider):
    owner_client.post(
        f"/o/{org.slug}/settings/members/", {"email": outsider.email, "role": "admin"}
    )
    with scopes_disabled():
        assert Membership.objects.filter(user=outsider).count() == 2
    assert not mail.outbox


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


def test_a_forgotten_password_is_reset_by_e_mail(org, owner):
    response = Client().post("/password/reset/", {"email": owner.email})
    assert response.status_code == 302
    [message] = mail.outbox
    assert "/password/reset/" in message.body


def test_members_pages_speak_french(owner_client, org):
    owner_client.cookies.load({"django_language": "fr"})
    response = owner_client.get(f"/o/{org.slug}/settings/")
    assert "Ajouter un membre" in response.text
