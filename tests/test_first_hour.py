"""What a newcomer meets in the first hour: the server reachable as `make run` promises,
an icon on every page, new clients in the organisation's language, one log line per
refused request."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django_scopes import scope, scopes_disabled

from config.logfilters import ClientErrorsWithoutTraceback
from organizations.actors import Actor
from profiles import actions
from profiles.models import Kind, Profile
from tests.api.conftest import client_for, issue

ROOT = Path(__file__).resolve().parent.parent


def _make_run(*args: str) -> str:
    result = subprocess.run(
        ["make", "-n", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_make_run_on_every_interface_answers_any_host_and_links_to_this_machine():
    commands = _make_run("HOST=0.0.0.0", "PORT=8702")
    assert "WEB_ADDR=0.0.0.0:8702" in commands
    assert 'ALLOWED_HOSTS="${ALLOWED_HOSTS:-*}"' in commands
    site = re.search(r"SITE_URL=(\S+)", commands)
    assert site and site.group(1).endswith(":8702") and "0.0.0.0" not in site.group(1)  # noqa: S104


def test_make_run_on_loopback_stays_local():
    commands = _make_run()
    assert "SITE_URL=http://127.0.0.1:8000" in commands
    assert 'ALLOWED_HOSTS="${ALLOWED_HOSTS:-localhost,127.0.0.1,[::1],127.0.0.1}"' in commands


@pytest.mark.django_db
def test_every_page_names_its_icon_and_the_old_name_leads_to_it(client):
    page = client.get("/login/")
    assert b'rel="icon"' in page.content and b"favicon.svg" in page.content
    old = client.get("/favicon.ico")
    assert old.status_code == 301 and old["Location"].endswith("favicon.svg")
    assert (ROOT / "static" / "favicon.svg").read_text().startswith("<svg xmlns=")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_new_contact_speaks_the_organisation_language_through_every_door(
    org, owner, owner_client, language
):
    org.default_language = language
    org.save(update_fields=["default_language"])
    identity = {"last_name": "Lovelace", "email": "ada@example.com"}
    with scope(organization=org):
        by_action = actions.create_profile(
            organization=org, actor=Actor.member(owner), kind=Kind.CONTACT, identity=identity
        )
    assert by_action.language == language

    form = owner_client.get(f"/o/{org.slug}/contacts/new/")
    assert re.search(rf'<option value="{language}"[^>]*selected', form.content.decode())

    _, key = issue(org)
    response = client_for(key).post(
        "/api/v1/profiles/",
        json.dumps({"kind": "contact", "last_name": "Byron", "email": "byron@example.com"}),
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["language"] == language

    # Said explicitly, the other language wins.
    other = "fr" if language == "en" else "en"
    with scope(organization=org):
        chosen = actions.create_profile(
            organization=org,
            actor=Actor.member(owner),
            kind=Kind.CONTACT,
            identity={**identity, "email": "b@example.com", "language": other},
        )
    assert chosen.language == other
    with scopes_disabled():
        assert Profile.objects.filter(organization=org).count() == 3


def _handlers_reached(name: str) -> list[logging.Handler]:
    logger: logging.Logger | None = logging.getLogger(name)
    found: list[logging.Handler] = []
    while logger is not None:
        found += logger.handlers
        if not logger.propagate:
            break
        logger = logger.parent
    return found


@pytest.mark.parametrize("name", ["django.request", "django.security.csrf", "django.server"])
def test_a_django_log_line_is_written_once(name):
    # The test runner keeps the configured handlers; pytest adds none to these loggers.
    reached = [h for h in _handlers_reached(name) if type(h).__module__ != "_pytest.logging"]
    assert len(reached) == 1, reached


def test_a_refused_request_is_logged_without_its_traceback():
    handler = django_settings.LOGGING["handlers"]["console"]
    assert "client_errors" in handler["filters"]
    assert (
        django_settings.LOGGING["filters"]["client_errors"]["()"]
        == "config.logfilters.ClientErrorsWithoutTraceback"
    )
    only_ours = ClientErrorsWithoutTraceback()
    try:
        raise PermissionError("not yours")
    except PermissionError:
        error = sys.exc_info()
    logger = logging.getLogger("django.request")
    refused = logger.makeRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Forbidden",
        (),
        error,
        extra={"status_code": 403},
    )
    failed = logger.makeRecord(
        "django.request",
        logging.ERROR,
        __file__,
        1,
        "Server error",
        (),
        error,
        extra={"status_code": 500},
    )
    assert only_ours.filter(refused) and refused.exc_info is None
    assert only_ours.filter(failed) and failed.exc_info is not None
