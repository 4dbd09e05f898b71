"""Single sign-on walked in Chromium, in French, against the real test provider (tests/idp/).

The sign-in page's button posts to the application, which redirects to the provider: the
browser enforces the page's CSP `form-action` on that redirection, so this walk also proves
that the policy names the provider.
"""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from organizations.models import SsoProvider
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def _shot(page, shots, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def _provider_login(page, email: str) -> None:
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", email)
    page.fill("#id_password", "idp-pass-phrase-42")
    page.click("button[type=submit]")


def test_single_sign_on_in_french(browser, live_server, shots, org, settings, identity_provider):
    settings.SITE_URL = live_server.url
    identity_provider.tamper()
    identity_provider.client(
        "acme-browser", "browser-secret", [f"{live_server.url}/sso/{org.slug}/callback/"]
    )
    make_member(org, "alice", "admin")
    make_member(org, "bob", "staff")
    make_member(org, "carol", "staff")
    identity_provider.user("alice@example.com")
    identity_provider.user("bob@example.com")
    identity_provider.user("carol@example.com", verified=False)

    # The administrator names the provider in Paramètres > Sécurité.
    admin = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = admin.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.goto(f"{live_server.url}/o/{org.slug}/settings/security/")
    assert page.is_visible("h1:has-text('Authentification unique')")
    page.fill("#id_discovery_url", identity_provider.discovery_url)
    page.fill("#id_client_id", "acme-browser")
    page.fill("#id_client_secret", "browser-secret")
    page.check("#id_enforces_second_factor")
    page.click("button.primary")
    assert page.is_visible("text=Le fournisseur d\u2019authentification unique a été enregistré.")
    # The secret is never sent back to the page.
    assert page.input_value("#id_client_secret") == ""
    # Requiring it first asks the administrator to sign in through it.
    page.check("#id_require_sso")
    page.click("button.primary")
    assert page.is_visible("text=connectez-vous une fois par lui")
    _shot(page, shots, "sso-1-security-fr")
    page.click("text=S\u2019y connecter maintenant")
    page.click("text=Continuer vers le fournisseur d\u2019identité")
    _provider_login(page, "alice@example.com")
    page.wait_for_url("**/settings/security/")
    assert page.is_visible("text=Vous vous êtes connecté par lui dans cette session.")
    page.check("#id_require_sso")
    page.click("button.primary")
    assert page.is_visible("text=Le fournisseur d\u2019authentification unique a été enregistré.")
    with scopes_disabled():
        assert SsoProvider.objects.get(organization=org).require_sso

    # A member opens the organisation: the log-in page offers its provider.
    member = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = member.new_page()
    page.goto(f"{live_server.url}/o/{org.slug}/contacts/")
    assert page.is_visible("text=Se connecter par authentification unique")
    _shot(page, shots, "sso-2-login-fr")
    page.click("text=Se connecter par authentification unique")
    assert page.is_visible("h1:has-text('Se connecter à Acme')")
    _shot(page, shots, "sso-3-sign-in-fr")
    page.click("text=Continuer vers le fournisseur d\u2019identité")
    page.wait_for_url("**/accounts/login/**")
    _shot(page, shots, "sso-4-provider")
    _provider_login(page, "bob@example.com")
    page.wait_for_url(f"**/o/{org.slug}/contacts/")
    assert page.is_visible("nav.mainnav >> text=Contacts")
    _shot(page, shots, "sso-5-signed-in-fr")

    # A member whose address the provider never confirmed stays out, and is told why.
    refused = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = refused.new_page()
    page.goto(f"{live_server.url}/sso/{org.slug}/")
    page.click("text=Continuer vers le fournisseur d\u2019identité")
    _provider_login(page, "carol@example.com")
    page.wait_for_url("**/callback/**")
    assert page.is_visible(
        "text=Le fournisseur d\u2019identité n\u2019a pas confirmé votre adresse e-mail."
    )
    _shot(page, shots, "sso-6-refused-fr")
    for context in (admin, member, refused):
        context.close()
