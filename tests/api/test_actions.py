"""The API app's actions (keys, webhook endpoints): each verb, then the doors that call it."""

from __future__ import annotations

import importlib
import inspect
import io
import re
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django_scopes import scope, scopes_disabled

from api import actions
from api.models import ApiKey, WebhookDelivery, WebhookEndpoint, hash_key
from organizations.actors import Actor
from organizations.models import AuditEntry
from tests.api.conftest import client_for, issue

pytestmark = pytest.mark.django_db


def _entries(action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def _spy(verb: str):
    return mock.patch(f"api.actions.{verb}", wraps=getattr(actions, verb))


# Keys -------------------------------------------------------------------------------------


def test_create_api_key_issues_a_hashed_key_and_records_its_prefix(org, owner):
    with scope(organization=org):
        issued = actions.create_api_key(
            org, actor=Actor.member(owner), name=" CRM sync ", access="write"
        )
    stored = issued.api_key
    assert stored.key_hash == hash_key(issued.key) and stored.name == "CRM sync"
    assert stored.created_by == owner and stored.organization == org
    [entry] = _entries("api.key.created")
    assert entry.user == owner and entry.organization == org
    assert entry.details == {"access": "Read and write", "prefix": issued.key[:10]}
    assert client_for(issued.key).get("/api/v1/profiles/").status_code == 200


@pytest.mark.parametrize(
    ("name", "access", "refused"),
    [
        ("", "read", {"name"}),
        ("   ", "read", {"name"}),
        ("x" * 101, "read", {"name"}),
        ("Sync", "root", {"access"}),
        ("", "", {"name", "access"}),
    ],
)
def test_create_api_key_refuses_on_the_field_and_writes_nothing(org, owner, name, access, refused):
    with scope(organization=org), pytest.raises(ValidationError) as error:
        actions.create_api_key(org, actor=Actor.member(owner), name=name, access=access)
    assert set(error.value.message_dict) == refused
    with scopes_disabled():
        assert not ApiKey.objects.exists() and not AuditEntry.objects.exists()


def test_revoke_api_key_once_and_only_once(org, owner):
    api_key, key = issue(org)
    with scope(organization=org):
        assert actions.revoke_api_key(api_key, actor=Actor.member(owner)) is True
        assert actions.revoke_api_key(api_key, actor=Actor.member(owner)) is False
    assert client_for(key).get("/api/v1/profiles/").status_code == 401
    [entry] = _entries("api.key.revoked")
    assert entry.user == owner and entry.details == {"prefix": api_key.prefix}
    assert entry.organization == org


def test_create_api_key_doors_settings_and_the_command(org, owner_client):
    with _spy("create_api_key") as spy:
        page = owner_client.post(f"/o/{org.slug}/settings/api/", {"name": "Web", "access": "read"})
        assert page.status_code == 200 and page.context["new_key"]
        out = io.StringIO()
        call_command("create_api_key", org.slug, "Nightly export", stdout=out)
    assert spy.call_count == 2
    assert client_for(out.getvalue().strip()).get("/api/v1/profiles/").status_code == 200
    by_page, by_command = _entries("api.key.created")
    assert by_page.actor == AuditEntry.Actor.MEMBER
    assert by_command.actor == AuditEntry.Actor.SYSTEM
    assert by_command.details["job"] == "create_api_key"


def test_the_command_says_why_a_key_is_refused(org):
    with pytest.raises(CommandError, match="at most 100"):
        call_command("create_api_key", org.slug, "x" * 101, stdout=io.StringIO())
    with scopes_disabled():
        assert not ApiKey.objects.exists()


def test_revoke_api_key_door_settings(org, owner_client):
    api_key, _ = issue(org)
    with _spy("revoke_api_key") as spy:
        owner_client.post(f"/o/{org.slug}/settings/api/{api_key.uuid}/revoke/")
    spy.assert_called_once()


# Webhook endpoints ----------------------------------------------------------------------------


def test_create_endpoint_checks_the_address_and_the_events(org, owner, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    actor = Actor.member(owner)
    with scope(organization=org):
        for url, events, refused in [
            ("http://10.1.2.3/hook", ["value.changed"], {"url"}),
            ("ftp://example.com/hook", [], {"url", "events"}),
            ("https://93.184.216.34/hook", ["no.such.event"], {"events"}),
        ]:
            with pytest.raises(ValidationError) as error:
                actions.create_endpoint(org, actor=actor, url=url, events=events)
            assert set(error.value.message_dict) == refused, url
        assert not WebhookEndpoint.objects.exists()
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    with scope(organization=org):
        endpoint = actions.create_endpoint(
            org, actor=actor, url="http://10.1.2.3/hook", events=["value.changed"]
        )
    assert endpoint.created_by == owner and endpoint.organization == org
    [entry] = _entries("api.webhook.created")
    assert entry.target == "http://10.1.2.3/hook" and entry.details == {"events": "value.changed"}


def test_endpoint_doors_settings_add_test_again_and_remove(org, owner_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    base = f"/o/{org.slug}/settings/webhooks/"
    with _spy("create_endpoint") as spy:
        added = owner_client.post(base, {"url": "http://example.com/h", "events": ["run.finished"]})
        assert added.status_code == 302
    spy.assert_called_once()
    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.get()
    with _spy("send_test_event") as spy:
        owner_client.post(f"{base}{endpoint.uuid}/test/")
    spy.assert_called_once()
    with scopes_disabled():
        delivery = WebhookDelivery.objects.get()
        assert delivery.event == "webhook.test"
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status="undeliverable", attempts=5)
    with _spy("resend_delivery") as spy:
        owner_client.post(f"{base}deliveries/{delivery.uuid}/again/")
    spy.assert_called_once()
    with scopes_disabled():
        delivery.refresh_from_db()
    assert delivery.status == "queued" and delivery.attempts == 0
    with _spy("delete_endpoint") as spy:
        owner_client.post(f"{base}{endpoint.uuid}/delete/")
    spy.assert_called_once()
    with scopes_disabled():
        assert not WebhookEndpoint.objects.exists()
    [entry] = _entries("api.webhook.deleted")
    assert entry.target == "http://example.com/h"


def test_a_refused_address_is_said_on_the_settings_form(org, owner_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    response = owner_client.post(
        f"/o/{org.slug}/settings/webhooks/",
        {"url": "http://127.0.0.1:9000/x", "events": ["value.changed"]},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["url"] == [
        "This address is on a private or local network: it cannot receive webhooks."
    ]
    assert response.context["form"]["url"].value() == "http://127.0.0.1:9000/x"


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("api.settings_views", None),
        ("api.management.commands.create_api_key", None),
        ("api.views", "UpdateGroupViewSet"),
    ],
)
def test_the_doors_of_these_verbs_record_no_audit_entry_themselves(module, name):
    door = importlib.import_module(module)
    source = inspect.getsource(getattr(door, name) if name else door)
    assert not re.search(r"\b(audit|record_audit)\(", source)
