from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_scopes import scopes_disabled

from organizations.models import Membership, Organization

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def need_service(available: bool, what: str) -> None:
    """Skips a test on a laptop without the service; fails it where CI promised the service."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (REQUIRE_SERVICES=1) but is not available")
    pytest.skip(f"{what} is not available")


@pytest.fixture(autouse=True)
def _fast_media(settings, tmp_path) -> None:
    if settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "media")},
            },
        }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def unscoped() -> Iterator[None]:
    with scopes_disabled():
        yield


def make_member(org: Organization, username: str, role: str) -> object:
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password="pw"
    )
    with scopes_disabled():
        Membership.objects.create(organization=org, user=user, role=role)
    return user


@pytest.fixture
def org(db) -> Organization:
    return Organization.objects.create(name="Acme", slug="acme", time_zone="Europe/Paris")


@pytest.fixture
def other_org(db) -> Organization:
    return Organization.objects.create(name="Globex", slug="globex", time_zone="America/New_York")


@pytest.fixture
def owner(org):
    return make_member(org, "owner", Membership.Role.ADMIN)


@pytest.fixture
def member(org):
    return make_member(org, "member", Membership.Role.STAFF)


@pytest.fixture
def outsider(other_org):
    return make_member(other_org, "outsider", Membership.Role.ADMIN)


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner) -> Client:
    return _client_for(owner)


@pytest.fixture
def member_client(member) -> Client:
    return _client_for(member)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client_for(outsider)
