"""Where "/" leads: the organisation a member opened last, else the first they joined; never
a chooser to click through, and never an organisation they do not belong to."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django_scopes import scopes_disabled

from organizations.middleware import LAST_ORGANIZATION
from organizations.models import Membership, Organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_orgs(org, other_org):
    user = get_user_model().objects.create_user(username="both", password="pw")
    with scopes_disabled():
        with time_machine.travel(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)):
            Membership.objects.create(organization=other_org, user=user, role="staff")
        with time_machine.travel(dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC)):
            Membership.objects.create(organization=org, user=user, role="admin")
    return user


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_first_organisation_joined_opens_without_a_chooser(two_orgs, other_org):
    response = _signed_in(two_orgs).get("/")
    assert response.status_code == 302
    assert response["Location"] == f"/o/{other_org.slug}/"


def test_the_organisation_opened_last_opens_next_time_across_sign_ins(two_orgs, org):
    client = _signed_in(two_orgs)
    client.get(f"/o/{org.slug}/")
    assert client.cookies[LAST_ORGANIZATION].value == org.slug
    client.post("/logout/")
    client.force_login(two_orgs)
    assert client.get("/")["Location"] == f"/o/{org.slug}/"


def test_a_remembered_organisation_the_user_left_is_not_opened(two_orgs, org, other_org):
    stranger = Organization.objects.create(name="Initech", slug="initech")
    client = _signed_in(two_orgs)
    for slug in (stranger.slug, "no-such-org"):
        client.cookies[LAST_ORGANIZATION] = slug
        assert client.get("/")["Location"] == f"/o/{other_org.slug}/"
    with scopes_disabled():
        Membership.objects.filter(user=two_orgs, organization=other_org).delete()
    client.cookies[LAST_ORGANIZATION] = other_org.slug
    assert client.get("/")["Location"] == f"/o/{org.slug}/"


def test_an_account_without_organisation_reads_why(db):
    user = get_user_model().objects.create_user(username="alone", password="pw")
    page = _signed_in(user).get("/")
    assert page.status_code == 200
    assert b"does not belong to any organisation" in page.content
