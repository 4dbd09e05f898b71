"""A portal path reads a large body only for a live link; other bodies count as bad tokens."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import AccessToken
from tests import factories

pytestmark = pytest.mark.django_db

FORGED = "forged-token-number-0001"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def dossier(org):
    field = factories.field(org, "document", label="Proof of address")
    return factories.dossier(org, factories.contact(org), [field])


def _large() -> dict[str, SimpleUploadedFile]:
    # Over the anonymous limit (256 KB), well under the portal's.
    return {"f": SimpleUploadedFile("big.pdf", factories.PDF + b"0" * (600 * 1024))}


def test_a_large_body_to_a_forged_link_is_refused_unread(client: Client):
    response = client.post(f"/d/{FORGED}/", _large())
    assert response.status_code == 413 and response["Connection"] == "close"


def test_a_large_body_to_a_live_link_is_read(client: Client, dossier):
    token = factories.token(dossier)
    response = client.post(f"/d/{token}/", {"action": "save", **_large()})
    assert response.status_code in (200, 302)


def test_a_large_body_to_a_replaced_link_is_refused_unread(client: Client, dossier):
    token = factories.token(dossier)
    with scopes_disabled():
        AccessToken.objects.update(replaced_at=timezone.now())
    assert client.post(f"/d/{token}/", _large()).status_code == 413


def test_large_bodies_count_toward_the_bad_token_limit(client: Client, dossier):
    token = factories.token(dossier)
    for i in range(19):
        assert client.post(f"/d/forged-token-number-{i:04}/", _large()).status_code == 413
    assert client.post("/d/", _large()).status_code == 413  # no token at all
    assert client.get(f"/d/{FORGED}/").status_code == 429
    # A valid link is still served to the address that spent its limit.
    assert client.get(f"/d/{token}/").status_code == 200


def test_a_body_over_the_portal_limit_counts_too(client: Client, dossier, settings):
    settings.REQUEST_BODY_LIMIT_MB = 0
    token = factories.token(dossier)
    for _ in range(20):
        assert client.post(f"/d/{token}/", _large()).status_code == 413
    assert client.get(f"/d/{FORGED}/").status_code == 429


def test_a_short_body_to_a_forged_link_is_an_ordinary_bad_token(client: Client):
    for i in range(20):
        assert client.post(f"/d/forged-token-number-{i:04}/", {"x": "y"}).status_code == 404
    assert client.post(f"/d/{FORGED}/", {"x": "y"}).status_code == 429


def test_large_bodies_elsewhere_do_not_touch_the_portal_limit(client: Client):
    for _ in range(25):
        assert client.post("/login/", _large()).status_code == 413
    assert client.get(f"/d/{FORGED}/").status_code == 404
