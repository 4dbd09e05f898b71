"""Passkeys in Chromium, with its virtual authenticator (DevTools' WebAuthn domain).

WebAuthn refuses an IP address as the relying party's domain: the live server is reached as
http://localhost:PORT, and the relying party's ID is "localhost". The library's scripts run
as served, under the site's Content-Security-Policy, in French.
"""

from __future__ import annotations

import re

import pytest
from django_otp_webauthn.models import WebAuthnCredential
from django_scopes import scopes_disabled

from organizations.models import AuditEntry
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def _shot(page, shots, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def _log_out(page) -> None:
    page.click("form[action='/logout/'] button")
    page.wait_for_url(re.compile(r"/login/"))


def test_a_passkey_is_added_then_answers_the_second_step_then_signs_in_alone(
    browser, live_server, shots, org, settings
):
    origin = live_server.url.replace("127.0.0.1", "localhost")
    assert origin.startswith("http://localhost:")
    settings.SITE_URL = origin
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [origin]
    make_member(org, "alice", "admin")
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="fr-FR")
    page = context.new_page()
    # What the policy refused, and any script's uncaught error (the favicon's 404 aside).
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: refused.append(str(error)))
    # A platform authenticator that keeps discoverable credentials and checks its owner
    # (a fingerprint, say), answering without a person to touch it.
    devtools = context.new_cdp_session(page)
    devtools.send("WebAuthn.enable", {"enableUI": False})
    authenticator = devtools.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    # 1. A password, then the security page: the passkey is named, then created.
    page.goto(f"{origin}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.wait_for_url(re.compile(r"/o/acme/|/$"))
    page.goto(f"{origin}/account/two-factor/")
    page.click("text=Ajouter une clé d\u2019accès")
    page.fill("#id_name", "Portable du bureau")
    page.click("button.primary")
    page.wait_for_selector("#passkey-register-button")
    _shot(page, shots, "passkeys-create-fr")
    page.click("#passkey-register-button")
    page.wait_for_url(re.compile(r"/account/two-factor/$"))
    assert page.is_visible("text=La clé d\u2019accès « Portable du bureau » a été ajoutée.")
    assert page.is_visible("#passkeys td:has-text('Portable du bureau')")
    [stored] = devtools.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})[
        "credentials"
    ]
    assert stored["isResidentCredential"] and stored["rpId"] == "localhost"
    credential = WebAuthnCredential.objects.get(user__username="alice")
    assert credential.name == "Portable du bureau" and credential.last_used_at is None

    # 2. The password alone no longer logs in: the passkey answers the second step.
    _log_out(page)
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.wait_for_url(re.compile(r"/login/code/$"))
    page.wait_for_selector("#passkey-verification-button")
    assert not page.is_visible("input[name='code']")
    _shot(page, shots, "passkeys-second-step-fr")
    page.click("#passkey-verification-button")
    page.wait_for_url(re.compile(r"/o/acme/$"))
    credential.refresh_from_db()
    assert credential.last_used_at is not None
    page.goto(f"{origin}/account/two-factor/")
    assert not page.is_visible("#passkeys td:has-text('Jamais')")
    _shot(page, shots, "passkeys-security-fr")

    # 3. Without a password: the passkey alone signs in, and counts as the second factor.
    _log_out(page)
    org.require_two_factor = True
    org.save()
    page.wait_for_selector("#passkey-verification-button")
    _shot(page, shots, "passkeys-sign-in-fr")
    page.click("#passkey-verification-button")
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.goto(f"{origin}/o/acme/contacts/")
    assert page.url.endswith("/o/acme/contacts/")
    with scopes_disabled():
        assert AuditEntry.objects.filter(
            action="organizations.auth.login", details__method="passkey"
        ).exists()
    assert refused == []
    context.close()
