from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client
from django_scopes import scopes_disabled

from api.models import ApiKey


@pytest.fixture(autouse=True)
def _fresh_rate_counts() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def issue(org, access: str = ApiKey.Access.WRITE, name: str = "CRM sync") -> tuple[ApiKey, str]:
    with scopes_disabled():
        return ApiKey.issue(org, name=name, access=access)


def client_for(key: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def write_key(org) -> tuple[ApiKey, str]:
    return issue(org)


@pytest.fixture
def api(write_key) -> Client:
    """A client of the organisation `org` with a read-write key."""
    return client_for(write_key[1])


@pytest.fixture
def outsider_api(other_org) -> Client:
    """A client of another organisation, with a read-write key of its own."""
    return client_for(issue(other_org, name="Theirs")[1])
