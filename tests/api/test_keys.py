"""Organisation keys: created by admins, shown once, stored hashed, revocable, rate-limited."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_scopes import scopes_disabled

from api.models import ApiKey, hash_key
from organizations.models import AuditEntry
from tests import factories
from tests.api.conftest import client_for, issue

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_key_shown_once_and_stored_as_a_hash(owner_client, org):
    response = owner_client.post(
        f"/o/{org.slug}/settings/api/", {"name": "CRM sync", "access": "write"}
    )
    assert response.status_code == 200
    key = re.search(r'value="(bo_[^"]+)"', response.text).group(1)
    assert response["Cache-Control"].startswith("max-age=0")
    with scopes_disabled():
        stored = ApiKey.objects.get()
        assert AuditEntry.objects.filter(action="api.key.created", target="CRM sync").exists()
    assert stored.key_hash == hash_key(key) and key not in stored.key_hash
    assert stored.access == "write" and stored.prefix == key[:10]
    # The list shows the prefix, never the key again.
    page = owner_client.get(f"/o/{org.slug}/settings/api/")
    assert key not in page.text and stored.prefix in page.text
    assert client_for(key).get("/api/v1/profiles/").status_code == 200


def test_a_key_needs_a_name_and_a_known_access(owner_client, org):
    response = owner_client.post(f"/o/{org.slug}/settings/api/", {"name": "", "access": "root"})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"name", "access"}
    with scopes_disabled():
        assert not ApiKey.objects.exists()


def test_staff_cannot_see_or_create_keys(member_client, org):
    assert member_client.get(f"/o/{org.slug}/settings/api/").status_code == 403
    assert member_client.post(f"/o/{org.slug}/settings/api/", {"name": "x"}).status_code == 403


def test_a_revoked_key_gets_401_and_the_revocation_is_audited(owner_client, org, owner):
    api_key, key = issue(org)
    assert client_for(key).get("/api/v1/profiles/").status_code == 200
    response = owner_client.post(f"/o/{org.slug}/settings/api/{api_key.uuid}/revoke/")
    assert response.status_code == 302
    answer = client_for(key).get("/api/v1/profiles/")
    assert answer.status_code == 401
    assert answer.json()["type"] == "client_error"
    assert answer["WWW-Authenticate"].startswith("Bearer")
    with scopes_disabled():
        api_key.refresh_from_db()
        entry = AuditEntry.objects.get(action="api.key.revoked")
    assert api_key.revoked_by == owner and entry.user == owner
    assert "Revoked on" in owner_client.get(f"/o/{org.slug}/settings/api/").text


def test_without_a_key_the_api_answers_401_not_a_login_page():
    client = Client()
    for url in ("/api/v1/profiles/", "/api/v1/dossiers/"):
        response = client.get(url)
        assert response.status_code == 401, url
        assert response["Content-Type"] == "application/json"
        assert response.json()["errors"][0]["code"] == "not_authenticated"
    assert client_for("bo_not-a-key").get("/api/v1/profiles/").status_code == 401
    assert Client(HTTP_AUTHORIZATION="Bearer").get("/api/v1/profiles/").status_code == 401


def test_a_read_only_key_reads_but_is_refused_every_write(org):
    profile = factories.contact(org)
    _, key = issue(org, access="read")
    client = client_for(key)
    assert client.get(f"/api/v1/profiles/{profile.uuid}/").status_code == 200
    writes = [
        ("post", "/api/v1/profiles/", {"kind": "contact", "last_name": "X", "email": "x@x.io"}),
        ("patch", f"/api/v1/profiles/{profile.uuid}/", {"last_name": "Y"}),
        ("post", f"/api/v1/profiles/{profile.uuid}/archive/", {}),
        ("patch", f"/api/v1/profiles/{profile.uuid}/values/", {"values": []}),
        ("post", "/api/v1/groups/", {}),
        ("post", "/api/v1/dossiers/", {}),
    ]
    for method, url, body in writes:
        response = getattr(client, method)(url, body, content_type="application/json")
        assert response.status_code == 403, (method, url)
        assert response.json()["errors"][0]["code"] == "permission_denied"
    profile.refresh_from_db()
    assert profile.last_name == "Doe" and profile.archived_at is None


def test_each_key_has_its_own_rate_with_retry_after(org, settings):
    settings.API_RATE_LIMIT = "3/min"
    first, second = client_for(issue(org)[1]), client_for(issue(org, name="Other")[1])
    assert [first.get("/api/v1/fields/").status_code for _ in range(3)] == [200] * 3
    refused = first.get("/api/v1/fields/")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused.json()["errors"][0]["code"] == "throttled"
    assert second.get("/api/v1/fields/").status_code == 200


def test_the_last_use_is_shown(owner_client, org):
    api_key, key = issue(org)
    assert "Never" in owner_client.get(f"/o/{org.slug}/settings/api/").text
    client_for(key).get("/api/v1/fields/")
    with scopes_disabled():
        api_key.refresh_from_db()
    assert api_key.last_used_at is not None
    assert "Never" not in owner_client.get(f"/o/{org.slug}/settings/api/").text


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_key_form_works_in_both_languages(owner_client, org, language):
    owner_client.cookies["django_language"] = language
    page = owner_client.get(f"/o/{org.slug}/settings/api/")
    assert ("Créer la clé" if language == "fr" else "Create the key") in page.text
    form = page.context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data["name"] = "Synchro CRM"
    response = owner_client.post(f"/o/{org.slug}/settings/api/", data)
    assert response.status_code == 200 and response.context["new_key"]
    with scopes_disabled():
        assert ApiKey.objects.get().access == "read"


def test_a_removed_members_keys_are_revoked_with_their_place(owner_client, org, owner):
    from organizations.models import Membership
    from tests.conftest import make_member

    colleague = make_member(org, "colleague", Membership.Role.ADMIN)
    with scopes_disabled():
        theirs, their_key = ApiKey.issue(
            org, name="Their sync", access="write", created_by=colleague
        )
        _ours, our_key = ApiKey.issue(org, name="Our sync", access="write", created_by=owner)
        membership = Membership.objects.get(user=colleague, organization=org)
    page = owner_client.get(f"/o/{org.slug}/settings/").text
    assert "The API keys they created are revoked with them." in page
    response = owner_client.post(f"/o/{org.slug}/settings/members/{membership.uuid}/remove/")
    assert response.status_code == 302
    assert client_for(their_key).get("/api/v1/profiles/").status_code == 401
    assert client_for(our_key).get("/api/v1/profiles/").status_code == 200
    with scopes_disabled():
        theirs.refresh_from_db()
        entry = AuditEntry.objects.get(action="api.key.revoked")
    # Revoked by the admin who removed them, in the removal's own transaction.
    assert theirs.revoked_by == owner and entry.user == owner
    assert entry.details["prefix"] == theirs.prefix
