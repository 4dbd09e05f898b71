"""Passkeys: added and removed on the security page, a second step after the password, and a
sign-in of their own, in the one flow of django-axes and django-otp."""

from __future__ import annotations

import datetime as dt

import lxml.html
import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import translation
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from django_scopes import scopes_disabled

from organizations.models import AuditEntry
from tests.organizations.authenticator import Authenticator, add_passkey, b64, sign_with

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock_and_cache():
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield


def _entries(action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=f"organizations.auth.{action}"))


def _logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"


def _password_step(username: str = "owner") -> Client:
    client = Client()
    response = client.post("/login/", {"username": username, "password": "pw"})
    assert response.status_code == 302 and response.url == "/login/code/"
    return client


# Adding one.


def test_a_member_names_a_passkey_then_creates_it(owner_client, owner):
    page = owner_client.get("/account/two-factor/")
    assert "No passkey yet." in page.text
    add_passkey(owner_client, "  Work   laptop ")
    credential = WebAuthnCredential.objects.get(user=owner)
    assert credential.name == "Work laptop"
    assert credential.confirmed and credential.discoverable
    [entry] = _entries("passkey_added")
    assert entry.details == {"name": "Work laptop"}
    # The first second factor verifies the session that created it, as the app's does.
    page = owner_client.get("/account/two-factor/")
    assert "The passkey “Work laptop” was added." in page.text
    row = lxml.html.fromstring(page.content).xpath("//section[@id='passkeys']//tbody/tr")
    assert [cell.text_content().strip() for cell in row[0].xpath("td")[:3]] == [
        "Work laptop",
        "02/03/2026 09:30",
        "Never",
    ]


@pytest.mark.parametrize(
    ("language", "name", "message"),
    [
        ("en", "", "This field is required."),
        ("en", "   ", "This field is required."),
        ("en", "x" * 65, "Ensure this value has at most 64 characters (it has 65)."),
        ("fr", "", "Ce champ est obligatoire."),
        ("fr", "a\u0007b", "Le nom ne peut pas contenir de caractères de contrôle."),
    ],
)
def test_a_bad_name_is_said_on_the_field_and_nothing_starts(
    owner_client, owner, language, name, message
):
    owner_client.cookies["django_language"] = language
    page = owner_client.post("/account/passkeys/add/", {"name": name})
    assert page.status_code == 200
    assert message in page.context["form"].errors["name"]
    assert "passkey_name" not in owner_client.session
    # What was typed stays in the field.
    assert page.context["form"]["name"].value() == name


def test_the_name_form_posts_back_as_a_browser_sends_it_in_french(owner_client, owner):
    owner_client.cookies["django_language"] = "fr"
    page = owner_client.get("/account/passkeys/add/")
    assert "Ajouter une clé d\u2019accès" in page.text
    [form] = [f for f in lxml.html.fromstring(page.content).forms if not f.get("action")]
    response = owner_client.post("/account/passkeys/add/", dict(form.form_values()))
    assert response.status_code == 200
    assert owner_client.session["passkey_name"] == "Clé d\u2019accès 1"


def test_an_account_with_a_second_factor_confirms_it_before_adding_a_passkey(owner_client, owner):
    TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    response = owner_client.get("/account/passkeys/add/")
    assert response.status_code == 302
    assert response.url == "/account/two-factor/?next=%2Faccount%2Fpasskeys%2Fadd%2F"
    # The ceremony itself refuses it too, whatever a script sends.
    begun = owner_client.post("/account/passkeys/registration/begin/")
    assert begun.status_code == 403 and begun.json()["code"] == "user_not_verified"
    assert not WebAuthnCredential.objects.exists()


def test_a_registration_that_does_not_verify_saves_nothing(owner_client, owner):
    owner_client.post("/account/passkeys/add/", {"name": "Laptop"})
    options = owner_client.post("/account/passkeys/registration/begin/").json()
    answer = Authenticator(origin="https://evil.example").create(options)
    response = owner_client.post(
        "/account/passkeys/registration/complete/", answer, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "This passkey could not be verified. Try again."
    assert not WebAuthnCredential.objects.exists()
    assert not _entries("passkey_added")


# The second step after a password.


def test_with_a_passkey_the_password_alone_does_not_log_in(org, owner, owner_client):
    passkey = add_passkey(owner_client)
    client = _password_step()
    assert not _logged_in(client)
    page = client.get("/login/code/")
    # No app: the page offers the passkey alone, no code field.
    assert 'id="passkey-verification-button"' in page.text
    assert 'name="code"' not in page.text
    options = client.post("/account/passkeys/authentication/begin/").json()
    assert options["userVerification"] == "discouraged"
    assert [c["id"] for c in options["allowCredentials"]] == [b64(passkey.credential_id)]
    response = client.post(
        "/account/passkeys/authentication/complete/",
        passkey.get(options),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["redirect_url"] == "/"
    assert _logged_in(client) and "two_factor_pending" not in client.session
    org.require_two_factor = True
    org.save()
    assert client.get(f"/o/{org.slug}/contacts/").status_code == 200
    assert WebAuthnCredential.objects.get().last_used_at == NOW
    assert _entries("login")


def test_the_second_step_keeps_the_page_asked_for(org, owner, owner_client):
    passkey = add_passkey(owner_client)
    client = Client()
    client.post("/login/", {"username": "owner", "password": "pw", "next": "/o/acme/contacts/"})
    response = sign_with(client, passkey)
    assert response.json()["redirect_url"] == "/o/acme/contacts/"


def test_another_accounts_passkey_does_not_answer_the_second_step(
    owner, owner_client, member, member_client
):
    owners = add_passkey(owner_client)
    add_passkey(member_client, "Member's key")
    client = _password_step("member")
    response = sign_with(client, owners)
    assert response.status_code == 403
    assert response.json()["code"] == "credential_user_mismatch"
    assert not _logged_in(client)
    [failure] = _entries("login_failed")
    assert failure.target == "member" and failure.details["step"] == "passkey"


def test_an_account_with_both_may_answer_with_either(owner, owner_client):
    device = TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    owner_client.post("/account/two-factor/", {"action": "verify", "code": _code(device)})
    passkey = add_passkey(owner_client)
    client = _password_step()
    page = client.get("/login/code/")
    assert 'name="code"' in page.text and "Or use a passkey" in page.text
    assert sign_with(client, passkey).status_code == 200
    assert _logged_in(client)


def test_a_pending_log_in_that_expires_mid_ceremony_signs_nobody_in(owner, owner_client):
    # The ceremony began for the pending account, which needs no PIN; without the pending
    # log-in its answer must not count as a sign-in by passkey alone.
    passkey = add_passkey(owner_client, verify_user=False)
    client = _password_step()
    options = client.post("/account/passkeys/authentication/begin/").json()
    with time_machine.travel(NOW + dt.timedelta(minutes=6), tick=False):
        response = client.post(
            "/account/passkeys/authentication/complete/",
            passkey.get(options),
            content_type="application/json",
        )
    assert response.status_code == 400 and response.json()["code"] == "invalid_state"
    assert not _logged_in(client)


# Signing in with a passkey alone.


def test_a_passkey_alone_signs_in_verified(org, owner, owner_client):
    passkey = add_passkey(owner_client)
    org.require_two_factor = True
    org.save()
    client = Client()
    options = client.post("/account/passkeys/authentication/begin/").json()
    # Nobody is known yet: any passkey of the site may answer, and it must check its owner.
    assert options["userVerification"] == "required"
    assert options.get("allowCredentials", []) == []
    url = "/account/passkeys/authentication/complete/?next=/o/acme/contacts/"
    response = client.post(url, passkey.get(options), content_type="application/json")
    assert response.status_code == 200
    assert response.json()["redirect_url"] == "/o/acme/contacts/"
    assert client.get(f"/o/{org.slug}/contacts/").status_code == 200
    [login] = [entry for entry in _entries("login") if "method" in entry.details]
    assert login.details == {"address": "127.0.0.1", "method": "passkey"}
    assert login.target == "owner"


def test_a_sign_in_never_leaves_the_site(owner, owner_client):
    passkey = add_passkey(owner_client)
    response = sign_with(Client(), passkey, next="https://evil.example/")
    assert response.json()["redirect_url"] == "/"


def test_a_passkey_that_does_not_check_its_owner_does_not_sign_in_alone(owner, owner_client):
    passkey = add_passkey(owner_client, verify_user=False)
    client = Client()
    response = sign_with(client, passkey)
    assert response.status_code == 422
    assert not _logged_in(client)


def test_an_answer_is_used_once(owner, owner_client):
    passkey = add_passkey(owner_client)
    client = Client()
    options = client.post("/account/passkeys/authentication/begin/").json()
    answer = passkey.get(options)
    url = "/account/passkeys/authentication/complete/"
    assert client.post(url, answer, content_type="application/json").status_code == 200
    client.post("/logout/")
    replayed = client.post(url, answer, content_type="application/json")
    assert replayed.status_code == 400 and replayed.json()["code"] == "invalid_state"
    assert not _logged_in(client)


def test_an_account_locked_out_by_wrong_passwords_stays_locked_for_passkeys(owner, owner_client):
    passkey = add_passkey(owner_client)
    client = Client()
    for _attempt in range(5):
        client.post("/login/", {"username": "owner", "password": "wrong"})
    response = sign_with(client, passkey)
    assert response.status_code == 403 and response.json()["code"] == "locked_out"
    assert not _logged_in(client)


def test_a_removed_passkey_signs_nobody_in(owner, owner_client):
    passkey = add_passkey(owner_client)
    WebAuthnCredential.objects.all().delete()
    response = sign_with(Client(), passkey)
    assert response.status_code == 404 and response.json()["code"] == "credential_not_found"


def test_an_inactive_account_cannot_sign_in_with_its_passkey(owner, owner_client):
    passkey = add_passkey(owner_client)
    owner.is_active = False
    owner.save()
    client = Client()
    assert sign_with(client, passkey).status_code == 403
    assert not _logged_in(client)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"{}",
        b"[]",
        b'{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}',
        b'{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": '
        b'{"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}}',
        b'{"id": 1, "rawId": null, "response": "x"}',
    ],
)
@pytest.mark.parametrize("signed_in", [False, True])
def test_hostile_answers_get_a_clear_refusal_never_a_500(owner, owner_client, body, signed_in):
    client = owner_client if signed_in else Client()
    client.post("/account/passkeys/authentication/begin/")
    response = client.post(
        "/account/passkeys/authentication/complete/", body, content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    owner_client.post("/account/passkeys/add/", {"name": "Laptop"})
    owner_client.post("/account/passkeys/registration/begin/")
    response = owner_client.post(
        "/account/passkeys/registration/complete/", body, content_type="application/json"
    )
    assert 400 <= response.status_code < 500
    assert not WebAuthnCredential.objects.exists()


def test_a_ceremony_never_begun_is_refused(db):
    response = Client().post(
        "/account/passkeys/authentication/complete/", b"{}", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_state"


# Removing one, and the reset.


def test_a_member_removes_a_passkey(owner, owner_client):
    add_passkey(owner_client, "Old phone")
    add_passkey(owner_client, "Laptop")
    old = WebAuthnCredential.objects.get(name="Old phone")
    response = owner_client.post(f"/account/passkeys/{old.pk}/remove/")
    assert response.status_code == 302 and response.url == "/account/two-factor/"
    assert list(WebAuthnCredential.objects.values_list("name", flat=True)) == ["Laptop"]
    [entry] = _entries("passkey_removed")
    assert entry.details == {"name": "Old phone"}


def test_a_session_older_than_the_passkey_removes_nothing(owner, owner_client):
    add_passkey(owner_client)
    passkey = WebAuthnCredential.objects.get()
    stale = Client()
    stale.force_login(owner)  # logged in elsewhere before the passkey existed
    page = stale.get("/account/two-factor/")
    assert f"/account/passkeys/{passkey.pk}/remove/" not in page.text
    response = stale.post(f"/account/passkeys/{passkey.pk}/remove/")
    assert response.status_code == 302 and response.url == "/account/two-factor/"
    assert WebAuthnCredential.objects.exists()
    assert not _entries("passkey_removed")


def test_sign_ins_by_passkey_are_bounded_per_address(db, settings):
    settings.PASSKEY_SIGN_IN_LIMIT_PER_ADDRESS = 3
    client = Client()
    for _attempt in range(3):
        assert client.post("/account/passkeys/authentication/begin/").status_code == 200
    refused = client.post("/account/passkeys/authentication/begin/")
    assert refused.status_code == 429 and refused["Retry-After"] == "3600"
    assert refused.json()["detail"] == "Too many attempts. Try again later."


def test_another_accounts_passkey_is_not_found(owner, owner_client, member, member_client):
    add_passkey(member_client)
    theirs = WebAuthnCredential.objects.get(user=member)
    assert owner_client.post(f"/account/passkeys/{theirs.pk}/remove/").status_code == 404
    assert Client().post(f"/account/passkeys/{theirs.pk}/remove/").status_code == 302
    assert WebAuthnCredential.objects.filter(pk=theirs.pk).exists()


def test_the_last_second_factor_stays_while_an_organisation_requires_one(org, owner, owner_client):
    add_passkey(owner_client)
    org.require_two_factor = True
    org.save()
    passkey = WebAuthnCredential.objects.get()
    owner_client.cookies["django_language"] = "fr"
    page = owner_client.post(f"/account/passkeys/{passkey.pk}/remove/", follow=True)
    assert "Acme exige un second facteur" in page.text
    assert WebAuthnCredential.objects.exists()
    # With an app beside it, the passkey may go; and the app may go while a passkey stays.
    TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    owner_client.post(f"/account/passkeys/{passkey.pk}/remove/")
    assert not WebAuthnCredential.objects.exists()


def test_the_app_may_be_turned_off_while_a_passkey_stays(org, owner, owner_client):
    device = TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    owner_client.post("/account/two-factor/", {"action": "verify", "code": _code(device)})
    add_passkey(owner_client)
    org.require_two_factor = True
    org.save()
    device.refresh_from_db()
    device.last_t = -1
    device.save()
    owner_client.post("/account/two-factor/", {"action": "disable", "code": _code(device)})
    assert not TOTPDevice.objects.filter(user=owner).exists()
    assert WebAuthnCredential.objects.filter(user=owner).exists()


def test_an_unverified_session_cannot_set_up_an_app_beside_a_passkey(owner, owner_client):
    add_passkey(owner_client)
    client = Client()
    client.force_login(owner)  # a session that never answered with the passkey
    page = client.get("/account/two-factor/")
    assert 'id="passkey-verification-button"' in page.text
    assert not TOTPDevice.objects.filter(user=owner).exists()
    client.post("/account/two-factor/", {"action": "confirm", "code": "123456"})
    assert not TOTPDevice.objects.filter(user=owner).exists()


def test_the_reset_command_removes_passkeys_too(owner, owner_client, capsys):
    add_passkey(owner_client, "Lost laptop")
    TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    call_command("reset_two_factor", "owner")
    assert "2 device(s) removed" in capsys.readouterr().out
    assert not WebAuthnCredential.objects.exists()
    [entry] = _entries("passkey_removed")
    assert entry.details["name"] == "Lost laptop"
    assert entry.details["by"] == entry.details["job"] == "reset_two_factor"
    # The next log-in is the password alone, and the security page offers a new factor.
    client = Client()
    assert client.post("/login/", {"username": "owner", "password": "pw"}).url == "/"


# The page.


def test_the_security_page_lists_passkeys_in_french(owner, owner_client, django_assert_num_queries):
    for name in ("Portable", "Téléphone", "Clé USB"):
        add_passkey(owner_client, name)
    owner_client.cookies["django_language"] = "fr"
    with django_assert_num_queries(8):
        page = owner_client.get("/account/two-factor/")
    tree = lxml.html.fromstring(page.content)
    assert [
        td.text_content() for td in tree.xpath("//section[@id='passkeys']//tbody/tr/td[1]")
    ] == [
        "Portable",
        "Téléphone",
        "Clé USB",
    ]
    assert "Clés d\u2019accès" in page.text and "Jamais" in page.text


def test_every_script_of_the_passkey_pages_is_a_file_the_policy_allows(owner, owner_client):
    pages = [
        Client().get("/login/"),
        owner_client.post("/account/passkeys/add/", {"name": "Laptop"}),
    ]
    for page in pages:
        policy = page["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        scripts = lxml.html.fromstring(page.content).xpath("//script")
        assert scripts
        for script in scripts:
            # A file of this site, or data the browser does not run.
            assert script.get("src", "").startswith("/") or script.get("type") == (
                "application/json"
            )
    with translation.override("fr"):
        catalog = Client().get("/account/passkeys/jsi18n/", HTTP_ACCEPT_LANGUAGE="fr")
    assert catalog.status_code == 200


def test_the_scripts_texts_are_in_french(db):
    client = Client()
    client.cookies["django_language"] = "fr"
    catalog = client.get("/account/passkeys/jsi18n/").content.decode()
    assert "V\\u00e9rification" in catalog or "Vérification" in catalog
