"""The portal's rate limit slows down guessing without ever locking out a valid link."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from organizations.clientip import client_ip
from tests import factories

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def dossier(org):
    field = factories.field(org, "text", label="Job title")
    return factories.dossier(org, factories.contact(org), [field])


def _spend_the_limit(client: Client, **headers: str) -> None:
    for i in range(21):
        client.get(f"/d/forged-token-number-{i:04}/", **headers)


def test_a_valid_link_is_served_after_the_address_spent_its_limit(client, dossier):
    token = factories.token(dossier)
    _spend_the_limit(client)
    assert client.get("/d/forged-token-number-9999/").status_code == 429
    assert client.get(f"/d/{token}/").status_code == 200


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(client, settings, dossier):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    _spend_the_limit(client, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7")
    attacker = client.get(
        "/d/forged-token-number-9999/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    assert attacker.status_code == 429
    neighbour = client.get(
        "/d/forged-token-number-9999/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.9"
    )
    assert neighbour.status_code == 404


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(client, settings, dossier):
    # Rotating X-Forwarded-For must not buy a fresh limit when we have no proxy.
    settings.TRUSTED_PROXIES = []
    for i in range(21):
        client.get(
            f"/d/forged-token-number-{i:04}/",
            REMOTE_ADDR="203.0.113.7",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
    response = client.get(
        "/d/forged-token-number-9999/",
        REMOTE_ADDR="203.0.113.7",
        HTTP_X_FORWARDED_FOR="198.51.100.200",
    )
    assert response.status_code == 429


class _Request:
    def __init__(self, remote: str, forwarded: str | None = None) -> None:
        self.META = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = forwarded


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("203.0.113.7", None, "203.0.113.7"),
        ("203.0.113.7", "198.51.100.1", "203.0.113.7"),  # not our proxy: header ignored
        (PROXY, "198.51.100.1", "198.51.100.1"),
        # The client wrote the left part; our proxy appended the real peer on the right.
        (PROXY, "1.2.3.4, 198.51.100.1", "198.51.100.1"),
        (PROXY, "198.51.100.1, 10.0.0.9", "198.51.100.1"),  # two proxies of ours
        (PROXY, None, PROXY),
        (PROXY, "not-an-address", PROXY),
        (PROXY, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_client_ip(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    assert client_ip(_Request(remote, forwarded)) == expected
