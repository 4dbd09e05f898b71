"""Logging in and asking for a new password: throttled, audited, silent about who exists."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from organizations.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def _log_in(client: Client, username: str, password: str, **headers: str):
    return client.post("/login/", {"username": username, "password": password}, **headers)


def _actions(action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action))


def test_wrong_passwords_lock_the_account_from_that_address(org, owner):
    client = Client()
    for _ in range(4):
        assert _log_in(client, "owner", "wrong").status_code == 200
    assert _log_in(client, "owner", "wrong").status_code == 429
    # The right password no longer works from here for a while.
    locked = _log_in(client, "owner", "pw")
    assert locked.status_code == 429
    assert "Too many attempts" in locked.text
    assert client.get(f"/o/{org.slug}/contacts/").status_code == 302


def test_a_lockout_is_per_address_so_a_colleague_still_logs_in(org, owner, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    attacker = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "203.0.113.7"}
    office = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "198.51.100.9"}
    for _ in range(6):
        _log_in(Client(), "owner", "wrong", **attacker)
    assert _log_in(Client(), "owner", "pw", **attacker).status_code == 429
    assert _log_in(Client(), "owner", "pw", **office).status_code == 302


def test_logins_and_failed_logins_are_audited_in_the_users_organisations(org, owner):
    _log_in(Client(), "owner", "wrong")
    _log_in(Client(), "owner", "pw")
    [failed] = _actions("organizations.auth.login_failed")
    [success] = _actions("organizations.auth.login")
    assert failed.organization == org and failed.user == owner
    assert failed.details["address"] == "127.0.0.1"
    assert "wrong" not in str(failed.details)
    assert success.user == owner


def _ask_reset(email: str, capture) -> tuple[object, list[str], int]:
    with CaptureQueriesContext(connection) as queries, capture(execute=False) as callbacks:
        response = Client().post("/password/reset/", {"email": email})
    # The statements, without their values (the address itself, the moment, a random key).
    statements = [re.sub(r"'[^']*'", "?", q["sql"]) for q in queries.captured_queries]
    return response, statements, len(callbacks)


def test_a_reset_answers_alike_whether_or_not_the_account_exists(
    org, owner, django_capture_on_commit_callbacks
):
    known = _ask_reset(owner.email, django_capture_on_commit_callbacks)
    unknown = _ask_reset("nobody@example.com", django_capture_on_commit_callbacks)
    assert known[0].status_code == unknown[0].status_code == 302
    assert known[0].url == unknown[0].url
    # The request does the same work either way: no look-up of the account, one outbox row.
    assert known[1] == unknown[1]
    assert not any("auth_user" in sql for sql in known[1])
    assert known[2] == unknown[2] == 1


def test_a_reset_sends_a_link_to_an_existing_account_only(
    org, owner, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://backoffice.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/password/reset/", {"email": "nobody@example.com"})
        Client().post("/password/reset/", {"email": owner.email})
    [message] = mail.outbox
    assert message.to == [owner.email]
    assert re.search(r"https://backoffice\.example\.com/password/reset/\S+/\S+/", message.body)
    assert _actions("organizations.auth.password_reset")[0].user == owner


def test_resets_are_throttled_per_address_and_per_e_mail(
    org, owner, settings, django_capture_on_commit_callbacks
):
    settings.PASSWORD_RESET_LIMIT_PER_ADDRESS = 4
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(4):
            response = Client().post(
                "/password/reset/", {"email": owner.email}, REMOTE_ADDR=f"203.0.113.{i}"
            )
            assert response.status_code == 302
    # Three e-mails an hour to one address at most, and the page does not say so.
    assert len(mail.outbox) == 3
    client = Client(REMOTE_ADDR="198.51.100.1")
    for _ in range(4):
        client.post("/password/reset/", {"email": "x@example.com"})
    throttled = client.post("/password/reset/", {"email": "x@example.com"})
    assert throttled.status_code == 429


def test_a_password_chosen_from_a_reset_link_is_audited(
    org, owner, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/password/reset/", {"email": owner.email})
    link = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[0].body).group(1)
    client = Client()
    form = client.get(link, follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "a-long-pass-phrase-42", "new_password2": "a-long-pass-phrase-42"},
    )
    assert _actions("organizations.auth.password_changed")[0].user == owner
