"""Single sign-on through an organisation's OpenID Connect provider, against a real one.

The provider is django-oidc-provider in a second Django process (tests/idp/); each test
registers its own client there. ID tokens the provider signs with a wrong issuer, audience,
nonce or expiry (its tamper hook) are refused, each by its own check.
"""

from __future__ import annotations

import uuid
from typing import Any

import lxml.html
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scope, scopes_disabled

from organizations import actions, sso
from organizations.actors import Actor
from organizations.models import AuditEntry, Membership, SsoProvider
from tests.conftest import make_member
from tests.idp.fixture import IdentityProvider, free_port

pytestmark = pytest.mark.django_db

SECRET = "client-secret-9f8e7d"


@pytest.fixture(autouse=True)
def _clean(settings, identity_provider: IdentityProvider) -> None:
    settings.SITE_URL = "http://testserver"
    cache.clear()
    identity_provider.tamper()


def _configure(org: Any, idp: IdentityProvider, **options: Any) -> SsoProvider:
    client_id = f"{org.slug}-{uuid.uuid4().hex[:8]}"
    idp.client(client_id, SECRET, [f"http://testserver/sso/{org.slug}/callback/"])
    with scope(organization=org):
        provider = actions.configure_sso(
            org,
            actor=Actor.system("test"),
            discovery_url=idp.discovery_url,
            client_id=client_id,
            client_secret=SECRET,
            enforces_second_factor=options.pop("enforces_second_factor", False),
        )
        if options:
            SsoProvider.objects.filter(pk=provider.pk).update(**options)
            provider.refresh_from_db()
    return provider


def _through_provider(
    client: Client, idp: IdentityProvider, email: str, slug: str = "acme", next_url: str = ""
) -> Any:
    return idp.through(client, email, slug, next_url)


def _entries(org: Any, action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(organization=org, action=action))


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


# Settings > Security.


def test_an_admin_names_the_provider_and_its_secret_is_never_shown_again(
    org, owner_client, identity_provider
):
    page = owner_client.get("/o/acme/settings/security/")
    assert page.status_code == 200
    assert "http://testserver/sso/acme/callback/" in page.text
    response = owner_client.post(
        "/o/acme/settings/security/",
        {
            "discovery_url": identity_provider.discovery_url,
            "client_id": "acme-app",
            "client_secret": SECRET,
            "enforces_second_factor": "on",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        provider = SsoProvider.objects.get(organization=org)
    assert provider.metadata["issuer"] == identity_provider.issuer
    assert provider.enforces_second_factor and not provider.require_sso
    assert SECRET not in provider.client_secret_sealed
    assert sso.unseal(provider.client_secret_sealed) == SECRET
    again = owner_client.get("/o/acme/settings/security/")
    assert SECRET not in again.text and provider.client_secret_sealed not in again.text
    # Saved again without a secret: the one on file stays.
    owner_client.post(
        "/o/acme/settings/security/",
        {"discovery_url": identity_provider.discovery_url, "client_id": "acme-app-2"},
    )
    provider.refresh_from_db()
    assert provider.client_id == "acme-app-2"
    assert sso.unseal(provider.client_secret_sealed) == SECRET
    [second, first] = _entries(org, "organizations.sso.configured")
    assert first.details["changed"] == [
        "discovery_url",
        "client_id",
        "client_secret",
        "enforces_second_factor",
        "require_sso",
    ]
    assert second.details["changed"] == ["client_id", "enforces_second_factor"]
    assert SECRET not in str(first.details) + str(second.details)


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_provider_that_does_not_answer_is_refused_on_its_field(org, owner_client, language):
    # A port nothing listens on: the provider is down, or the address is wrong.
    dead = f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration"
    owner_client.cookies["django_language"] = language
    response = owner_client.post(
        "/o/acme/settings/security/",
        {"discovery_url": dead, "client_id": "acme-app", "client_secret": SECRET},
    )
    assert response.status_code == 200
    with translation.override(language):
        expected = str(
            translation.gettext(
                "No OpenID Connect discovery document could be read at this address."
            )
        )
    assert response.context["form"].errors["discovery_url"] == [expected]
    if language == "fr":
        assert "document de découverte" in expected
    # What was typed comes back, except the secret; nothing is saved or logged.
    assert f'value="{dead}"' in response.text and SECRET not in response.text
    with scopes_disabled():
        assert not SsoProvider.objects.exists()
    assert not _entries(org, "organizations.sso.configured")


def test_a_first_save_needs_a_secret_and_a_client_id(org, owner_client, identity_provider):
    for client_id, field in ((" ", "client_id"), ("acme-app", "client_secret")):
        response = owner_client.post(
            "/o/acme/settings/security/",
            {"discovery_url": identity_provider.discovery_url, "client_id": client_id},
        )
        assert response.status_code == 200
        assert response.context["form"].errors[field] == ["This field is required."]
    with scopes_disabled():
        assert not SsoProvider.objects.exists()


def test_in_production_only_public_https_providers_are_read(org, owner_client, settings):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = False
    for url, message in [
        ("http://idp.example.com/.well-known/openid-configuration", "must start with https://"),
        ("https://127.0.0.1/.well-known/openid-configuration", "private or local network"),
    ]:
        response = owner_client.post(
            "/o/acme/settings/security/",
            {"discovery_url": url, "client_id": "acme-app", "client_secret": SECRET},
        )
        assert message in response.context["form"].errors["discovery_url"][0]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_security_form_posted_back_untouched_changes_nothing(
    org, owner_client, identity_provider, language
):
    provider = _configure(org, identity_provider, enforces_second_factor=True)
    owner_client.cookies["django_language"] = language
    page = owner_client.get("/o/acme/settings/security/")
    tree = lxml.html.fromstring(page.content)
    [form] = [f for f in tree.forms if f.method.upper() == "POST" and not f.get("action")]
    response = owner_client.post("/o/acme/settings/security/", dict(form.form_values()))
    assert response.status_code == 302
    with scopes_disabled():
        after = SsoProvider.objects.get(pk=provider.pk)
    assert (after.discovery_url, after.client_id) == (provider.discovery_url, provider.client_id)
    assert after.enforces_second_factor and not after.require_sso
    assert sso.unseal(after.client_secret_sealed) == SECRET
    [entry, _first] = _entries(org, "organizations.sso.configured")
    assert entry.details["changed"] == []


def test_check_deploy_says_when_providers_may_be_private(settings):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = False
    assert sso.check_private_addresses(None) == []
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    [warning] = sso.check_private_addresses(None)
    assert warning.id == "organizations.sso.W001"


def test_staff_cannot_open_the_security_settings(org, member_client, outsider_client):
    assert member_client.get("/o/acme/settings/security/").status_code == 403
    assert outsider_client.get("/o/acme/settings/security/").status_code == 404


def test_requiring_sso_waits_for_the_admin_to_have_signed_in_through_it(
    org, owner, identity_provider
):
    provider = _configure(org, identity_provider)
    identity_provider.user("owner@example.com")
    admin = Client()
    admin.force_login(owner)
    form = {
        "discovery_url": identity_provider.discovery_url,
        "client_id": provider.client_id,
        "require_sso": "on",
    }
    refused = admin.post("/o/acme/settings/security/", form)
    assert refused.status_code == 200 and "require_sso" in refused.context["form"].errors
    provider.refresh_from_db()
    assert not provider.require_sso
    assert _through_provider(admin, identity_provider, "owner@example.com").status_code == 302
    assert admin.post("/o/acme/settings/security/", form).status_code == 302
    provider.refresh_from_db()
    assert provider.require_sso


def test_an_admin_removes_the_provider(org, owner_client, identity_provider):
    _configure(org, identity_provider)
    assert owner_client.post("/o/acme/settings/security/remove/").status_code == 302
    with scopes_disabled():
        assert not SsoProvider.objects.exists()
    assert len(_entries(org, "organizations.sso.removed")) == 1
    assert Client().get("/sso/acme/").status_code == 404


# The sign-in.


def test_a_member_signs_in_by_their_verified_address(org, member, identity_provider):
    _configure(org, identity_provider)
    identity_provider.user("member@example.com")
    client = Client()
    response = _through_provider(
        client, identity_provider, "member@example.com", next_url="/o/acme/notices/"
    )
    assert response.status_code == 302 and response.url == "/o/acme/notices/"
    assert client.session["_auth_user_id"] == str(member.pk)
    assert client.get("/o/acme/notices/").status_code == 200
    [entry] = _entries(org, "organizations.sso.signed_in")
    assert entry.user == member and entry.details["second_factor"] == "none"
    assert _entries(org, "organizations.auth.login")


def test_the_address_is_matched_whatever_its_case(org, member, identity_provider):
    _configure(org, identity_provider)
    identity_provider.user("Member@Example.COM")
    client = Client()
    assert _through_provider(client, identity_provider, "Member@Example.COM").status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)


def test_an_address_the_provider_did_not_verify_is_refused(org, member, identity_provider):
    _configure(org, identity_provider)
    identity_provider.user("member@example.com", verified=False)
    client = Client()
    response = _through_provider(client, identity_provider, "member@example.com")
    assert response.status_code == 403
    assert "did not confirm your e-mail address" in response.text
    assert "_auth_user_id" not in client.session
    [entry] = _entries(org, "organizations.sso.refused")
    assert entry.details["reason"] == "email_not_verified"


def test_nobody_is_created_and_no_account_of_another_organisation_is_used(
    org, other_org, outsider, identity_provider
):
    # The outsider belongs to Globex only; Acme's provider vouches for their address.
    _configure(org, identity_provider)
    identity_provider.user("outsider@example.com")
    identity_provider.user("stranger@example.com")
    users_before = get_user_model().objects.count()
    for email in ("outsider@example.com", "stranger@example.com"):
        client = Client()
        response = _through_provider(client, identity_provider, email)
        assert response.status_code == 403 and "No member of Acme" in response.text
        assert "_auth_user_id" not in client.session
    assert get_user_model().objects.count() == users_before
    with scopes_disabled():
        assert not Membership.objects.filter(organization=org, user=outsider).exists()
    assert [e.details["reason"] for e in _entries(org, "organizations.sso.refused")] == [
        "no_member",
        "no_member",
    ]


@pytest.mark.parametrize(
    ("claim", "value", "reason"),
    [
        ("iss", "http://127.0.0.1:9/openid", "invalid_claim:iss"),
        ("aud", "another-client", "invalid_claim:aud"),
        # Authlib alone would take this one (it checks the audience through "azp" only).
        ("aud", ["another-client"], "invalid_claim:aud"),
        ("nonce", "not-the-nonce-of-this-sign-in", "invalid_claim:nonce"),
        ("exp", -3600, "expired_token"),
    ],
)
def test_an_id_token_failing_a_check_is_refused(
    org, member, identity_provider, claim, value, reason
):
    provider = _configure(org, identity_provider)
    identity_provider.user("member@example.com")
    tampered = {claim: value}
    if value == ["another-client"]:
        tampered["azp"] = provider.client_id
    identity_provider.tamper(**tampered)
    client = Client()
    response = _through_provider(client, identity_provider, "member@example.com")
    assert response.status_code == 403
    assert "could not be accepted" in response.text
    assert "_auth_user_id" not in client.session
    [entry] = _entries(org, "organizations.sso.refused")
    assert entry.details["reason"] == reason
    assert not _entries(org, "organizations.sso.signed_in")
    # The same sign-in with the truth goes through: the check, not the set-up, refused it.
    identity_provider.tamper()
    assert _through_provider(Client(), identity_provider, "member@example.com").status_code == 302


def test_an_answer_for_another_browser_is_refused(org, member, identity_provider):
    _configure(org, identity_provider)
    identity_provider.user("member@example.com")
    victim = Client()
    start = victim.post("/sso/acme/")
    back = identity_provider.sign_in(start.url, "member@example.com")
    # Another browser (no state of this sign-in in its session) presents the answer.
    response = Client().get(back.removeprefix("http://testserver"))
    assert response.status_code == 403
    # Answers nobody here asked for leave no record: the audit log is not theirs to fill.
    assert not _entries(org, "organizations.sso.refused")
    # One that this browser asked for, but for another sign-in than the one it started, does.
    victim.post("/sso/acme/")
    other = identity_provider.sign_in(Client().post("/sso/acme/").url, "member@example.com")
    assert victim.get(other.removeprefix("http://testserver")).status_code == 403
    [entry] = _entries(org, "organizations.sso.refused")
    assert entry.details["reason"] == "mismatching_state"
    assert "_auth_user_id" not in victim.session


def test_a_provider_that_stopped_answering_is_a_clear_page(org, member, identity_provider):
    provider = _configure(org, identity_provider)
    identity_provider.user("member@example.com")
    dead = f"http://127.0.0.1:{free_port()}"
    provider.metadata = {
        **provider.metadata,
        "token_endpoint": f"{dead}/token",
    }
    provider.save()
    client = Client()
    response = _through_provider(client, identity_provider, "member@example.com")
    assert response.status_code == 403 and "could not be accepted" in response.text
    assert "_auth_user_id" not in client.session
    # The administrators read a fixed word, never what answered (or not) at the address.
    refused = _entries(org, "organizations.sso.refused")[0]
    assert refused.details["reason"] == "provider_unreachable"


def test_a_locked_out_name_and_address_cannot_sign_in_through_the_provider(
    org, member, identity_provider, settings
):
    _configure(org, identity_provider)
    identity_provider.user("member@example.com")
    client = Client()
    for _attempt in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": "member", "password": "wrong"})
    response = _through_provider(client, identity_provider, "member@example.com")
    assert response.status_code in (403, 429)
    assert "_auth_user_id" not in client.session
    assert not _entries(org, "organizations.sso.signed_in")
    assert _entries(org, "organizations.sso.refused")[0].details["reason"] == "locked_out"


def test_signing_in_for_another_account_while_logged_in_is_refused(
    org, owner, member, identity_provider
):
    _configure(org, identity_provider)
    identity_provider.user("member@example.com")
    client = Client()
    client.force_login(owner)
    response = _through_provider(client, identity_provider, "member@example.com")
    assert response.status_code == 403
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_a_provider_speaks_for_its_own_organisation_only(org, other_org, identity_provider):
    # An administrator of Acme controls Acme's provider: what it says about an account opens
    # Acme, never the account's other organisations.
    member = make_member(org, "both", Membership.Role.STAFF)
    with scopes_disabled():
        Membership.objects.create(organization=other_org, user=member)
    _configure(org, identity_provider)
    identity_provider.user("both@example.com")
    client = Client()
    assert _through_provider(client, identity_provider, "both@example.com").status_code == 302
    assert client.get("/o/acme/notices/").status_code == 200
    elsewhere = client.get("/o/globex/notices/")
    assert elsewhere.status_code == 403
    assert "log in with your password" in elsewhere.text
    assert 'value="/login/?next=/o/globex/notices/"' in elsewhere.text
    # Its button logs out and asks for the password, which opens every organisation.
    out = client.post("/logout/", {"next": "/login/?next=/o/globex/notices/"})
    assert out.status_code == 302 and out.url == "/login/?next=/o/globex/notices/"
    client.post("/login/", {"username": "both", "password": "pw"})
    assert client.get("/o/globex/notices/").status_code == 200
    assert client.get("/o/acme/notices/").status_code == 200


def test_a_session_opened_by_a_provider_cannot_change_the_accounts_second_factor(
    org, member, identity_provider
):
    # Else Acme's administrators, through their provider, could put a device of theirs on
    # an account that also belongs to other organisations.
    _configure(org, identity_provider)
    identity_provider.user("member@example.com")
    client = Client()
    assert _through_provider(client, identity_provider, "member@example.com").status_code == 302
    page = client.get("/account/two-factor/")
    assert page.status_code == 403 and "log in with your password" in page.text
    assert client.post("/account/two-factor/", {"action": "confirm"}).status_code == 403
    assert not TOTPDevice.objects.filter(user=member).exists()
    # Nor a passkey, which would open every organisation of the account.
    assert client.get("/account/passkeys/add/").status_code == 403
    assert client.post("/account/passkeys/add/", {"name": "Mine"}).status_code == 403
    for ceremony in (
        "/account/passkeys/registration/begin/",
        "/account/passkeys/registration/complete/",
    ):
        assert client.post(ceremony, "{}", content_type="application/json").status_code == 403
    # After the password, the account's owner manages it as before.
    client.post("/logout/")
    client.post("/login/", {"username": "member", "password": "pw"})
    assert client.get("/account/two-factor/").status_code == 200


def test_a_password_after_the_provider_opens_every_organisation(org, other_org, identity_provider):
    member = make_member(org, "both", Membership.Role.STAFF)
    with scopes_disabled():
        Membership.objects.create(organization=other_org, user=member)
    _configure(org, identity_provider)
    identity_provider.user("both@example.com")
    client = Client()
    client.post("/login/", {"username": "both", "password": "pw"})
    assert _through_provider(client, identity_provider, "both@example.com").status_code == 302
    assert client.get("/o/globex/notices/").status_code == 200


# The second factor.


def test_the_provider_counts_as_second_factor_only_where_the_admin_says_it_enforces_one(
    org, other_org, identity_provider
):
    member = make_member(org, "both", Membership.Role.STAFF)
    with scopes_disabled():
        Membership.objects.create(organization=other_org, user=member)
    org.require_two_factor = other_org.require_two_factor = True
    org.save()
    other_org.save()
    _configure(org, identity_provider, enforces_second_factor=True)
    identity_provider.user("both@example.com")
    client = Client()
    # A password first, so that the session may reach both organisations.
    client.post("/login/", {"username": "both", "password": "pw"})
    assert _through_provider(client, identity_provider, "both@example.com").status_code == 302
    assert client.get("/o/acme/notices/").status_code == 200
    [entry] = _entries(org, "organizations.sso.signed_in")
    assert entry.details["second_factor"] == "provider"
    # Globex never said so: its members still need their own second factor.
    response = client.get("/o/globex/notices/")
    assert response.status_code == 302 and response.url.startswith("/account/two-factor/")


def test_a_provider_not_marked_as_enforcing_one_is_not_a_second_factor(org, identity_provider):
    make_member(org, "member", Membership.Role.STAFF)
    org.require_two_factor = True
    org.save()
    _configure(org, identity_provider)
    identity_provider.user("member@example.com")
    client = Client()
    assert _through_provider(client, identity_provider, "member@example.com").status_code == 302
    response = client.get("/o/acme/notices/")
    assert response.status_code == 302 and response.url.startswith("/account/two-factor/")


def test_a_member_with_a_device_still_gives_their_code_after_the_provider(
    org, member, identity_provider
):
    device = TOTPDevice.objects.create(user=member, name="phone", confirmed=True)
    _configure(org, identity_provider)
    identity_provider.user("member@example.com")
    client = Client()
    response = _through_provider(
        client, identity_provider, "member@example.com", next_url="/o/acme/notices/"
    )
    assert response.status_code == 302 and response.url == "/login/code/"
    assert "_auth_user_id" not in client.session
    right = client.post("/login/code/", {"code": _code(device)})
    assert right.status_code == 302 and right.url == "/o/acme/notices/"
    assert client.get("/o/acme/notices/").status_code == 200


# Requiring it.


def test_a_member_of_two_organisations_is_sent_through_the_provider_of_the_one_requiring_it(
    org, other_org, identity_provider
):
    member = make_member(org, "both", Membership.Role.STAFF)
    with scopes_disabled():
        Membership.objects.create(organization=other_org, user=member)
    device = TOTPDevice.objects.create(user=member, name="phone", confirmed=True)
    _configure(org, identity_provider, require_sso=True)
    identity_provider.user("both@example.com")
    client = Client()
    assert client.post("/login/", {"username": "both", "password": "pw"}).url == "/login/code/"
    assert client.post("/login/code/", {"code": _code(device)}).status_code == 302
    assert client.get("/o/globex/notices/").status_code == 200
    response = client.get("/o/acme/notices/?page=2")
    assert response.status_code == 302
    assert response.url == "/sso/acme/?next=%2Fo%2Facme%2Fnotices%2F%3Fpage%3D2"
    back = _through_provider(
        client, identity_provider, "both@example.com", next_url="/o/acme/notices/?page=2"
    )
    # Already verified by their code in this session: straight back where they were going.
    assert back.status_code == 302 and back.url == "/o/acme/notices/?page=2"
    assert client.get("/o/acme/notices/").status_code == 200
    assert client.get("/o/globex/notices/").status_code == 200


def test_a_stranger_to_an_organisation_requiring_sso_is_asked_to_log_in_first(
    org, identity_provider
):
    _configure(org, identity_provider, require_sso=True)
    response = Client().get("/o/acme/notices/")
    assert response.status_code == 302 and response.url.startswith("/login/?next=")
    login_page = Client().get(response.url)
    assert 'href="/sso/acme/?next=%2Fo%2Facme%2Fnotices%2F"' in login_page.text


# What it costs.


def test_a_provider_adds_no_query_to_the_back_office_pages(org, member, identity_provider):
    client = Client()
    client.force_login(member)
    with CaptureQueriesContext(connection) as without:
        assert client.get("/o/acme/notices/").status_code == 200
    _configure(org, identity_provider)
    with CaptureQueriesContext(connection) as with_provider:
        assert client.get("/o/acme/notices/").status_code == 200
    assert len(with_provider) == len(without)


def test_the_sign_in_page_reads_the_provider_once(org, identity_provider):
    _configure(org, identity_provider)
    with CaptureQueriesContext(connection) as queries:
        assert Client().get("/sso/acme/").status_code == 200
    assert len(queries) == 1


# The content security policy.


def test_the_sign_in_page_may_post_on_to_its_own_provider_only(org, other_org, identity_provider):
    _configure(org, identity_provider)
    page = Client().get("/sso/acme/")
    assert page.status_code == 200
    policy = dict(part.strip().split(" ", 1) for part in page["Content-Security-Policy"].split(";"))
    assert policy["form-action"].split() == ["'self'", identity_provider.url]
    login = Client().get("/login/")
    assert "form-action 'self';" in login["Content-Security-Policy"] + ";"
    assert identity_provider.url not in login["Content-Security-Policy"]
    assert Client().get("/sso/globex/").status_code == 404


def test_the_sign_in_pages_read_in_french(org, member, identity_provider):
    _configure(org, identity_provider)
    identity_provider.user("member@example.com", verified=False)
    client = Client()
    client.cookies["django_language"] = "fr"
    page = client.get("/sso/acme/")
    assert "Se connecter à Acme" in page.text
    failed = _through_provider(client, identity_provider, "member@example.com")
    assert "n\u2019a pas confirmé votre adresse e-mail" in failed.text


def test_only_the_flows_keys_of_a_discovery_document_are_kept_and_used(
    org, member, identity_provider
):
    provider = _configure(org, identity_provider)
    # The provider's document names more (claims, scopes...): only what the flow reads stays.
    assert set(provider.metadata) <= set(sso.KEPT_METADATA)
    assert set(sso.REQUIRED_METADATA) <= set(provider.metadata)
    # A document kept before, holding keys the client library would take as its own
    # arguments: they are not passed on, and the sign-in goes to the provider as named.
    with scope(organization=org):
        SsoProvider.objects.filter(pk=provider.pk).update(
            metadata={
                **provider.metadata,
                "client_secret": "taken-from-the-document",
                "client_kwargs": {"scope": "openid"},
                "authorize_url": "https://elsewhere.example/authorize",
            }
        )
    identity_provider.user("member@example.com")
    client = Client()
    response = _through_provider(client, identity_provider, "member@example.com")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)
