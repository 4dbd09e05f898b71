"""Tokens of links never reach a log line."""

from __future__ import annotations

import datetime as dt
import io
import logging

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from organizations.logmask import MaskTokens, mask
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_output():
    """What the configured console handler writes, read from a buffer for the test."""
    [handler] = [
        h for h in logging.getLogger().handlers if any(isinstance(f, MaskTokens) for f in h.filters)
    ]
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    yield buffer
    handler.setStream(old)


def test_a_gone_portal_link_is_logged_without_its_token(org, log_output):
    cache.clear()
    field = factories.field(org, "text")
    dossier = factories.dossier(org, factories.contact(org), [field])
    token = factories.token(dossier)
    with scopes_disabled():
        Dossier.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert Client().get(f"/d/{token}/").status_code == 410
    Client().get("/d/forged-token-number-0001/")
    Client().get("/invitation/some-invitation-token-0001/")
    output = log_output.getvalue()
    assert "/d/***" in output
    assert token not in output
    assert "forged-token-number" not in output and "some-invitation-token" not in output


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Gone: /d/abcDEF123_-xyz/", "Gone: /d/***/"),
        ('"GET /d/abc?x=1 HTTP/1.1" 200', '"GET /d/***?x=1 HTTP/1.1" 200'),
        ("Not Found: /invitation/tok3n/", "Not Found: /invitation/***/"),
        ("GET /password/reset/MQ/c1d2-abcdef/", "GET /password/reset/***/***/"),
        ("GET /password/reset/sent/", "GET /password/reset/sent/"),
        ("GET /o/acme/dossiers/", "GET /o/acme/dossiers/"),
        (
            '"GET /api/v1/profiles/?key=bo_Zx9-Qw_8a7B6c5D4e3F2g1H0iJkLmNo HTTP/1.1" 401',
            '"GET /api/v1/profiles/?key=*** HTTP/1.1" 401',
        ),
        (
            "GET /api/v1/?page_size=2&api_key=bo%5FZx9-Qw_8a7B6c5D4e",
            "GET /api/v1/?page_size=2&api_key=***",
        ),
        ("GET /api/v1/fields/?token=c3VwZXJzZWNyZXQ&x=1", "GET /api/v1/fields/?token=***&x=1"),
        ("GET /api/v1/fields/?Access_Token=abc", "GET /api/v1/fields/?Access_Token=***"),
        (
            "Referer: https://crm.example/?x=bo_Zx9-Qw_8a7B6c5D4e",
            "Referer: https://crm.example/?x=bo_***",
        ),
        (
            "GET /o/acme/profiles/?q=bob_marley&kind=contact",
            "GET /o/acme/profiles/?q=bob_marley&kind=contact",
        ),
    ],
)
def test_mask(line, expected):
    assert mask(line) == expected


def test_the_gunicorn_access_log_masks_tokens():
    import datetime as dt
    from types import SimpleNamespace

    from gunicorn.config import Config

    from config.gunicorn import MaskingLogger

    logger = MaskingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/d/secret-token-0123456789abcdef/?x=1",
        "PATH_INFO": "/d/secret-token-0123456789abcdef/",
        "QUERY_STRING": "x=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": "https://backoffice.example.com/invitation/another-secret/",
    }
    response = SimpleNamespace(status="200 OK", sent=10, headers=[])
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    atoms = logger.atoms(response, request, environ, dt.timedelta(milliseconds=5))
    line = " ".join(str(value) for value in atoms.values())
    assert "secret-token" not in line and "another-secret" not in line
    assert "GET /d/***/?x=1 HTTP/1.1" in line


def test_the_gunicorn_access_log_masks_an_api_key_sent_in_the_query(org):
    """The key is refused (only the Authorization header counts), and never logged."""
    import datetime as dt
    from types import SimpleNamespace

    from gunicorn.config import Config

    from config.gunicorn import MaskingLogger
    from tests.api.conftest import issue

    _, key = issue(org)
    assert Client().get("/api/v1/profiles/", {"api_key": key}).status_code == 401
    logger = MaskingLogger(Config())
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/api/v1/profiles/?api_key={key}",
        "PATH_INFO": "/api/v1/profiles/",
        "QUERY_STRING": f"api_key={key}",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    response = SimpleNamespace(status="401 Unauthorized", sent=10, headers=[])
    atoms = logger.atoms(response, SimpleNamespace(headers=[]), environ, dt.timedelta(0))
    line = " ".join(str(value) for value in atoms.values())
    assert key not in line and key[3:] not in line
    assert "GET /api/v1/profiles/?api_key=*** HTTP/1.1" in line
