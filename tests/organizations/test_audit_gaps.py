"""What the log missed (L3): each now an audited action, naming who did it."""

from __future__ import annotations

import getpass
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_scopes import scopes_disabled

from api.models import WebhookDelivery, WebhookEndpoint
from dossiers.models import DossierItem
from organizations.models import AuditEntry
from tests import factories


def _entries(action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_a_key_created_on_the_command_line_names_the_command_and_the_server_account(org):
    call_command("create_api_key", org.slug, "Nightly export", stdout=io.StringIO())
    [entry] = _entries("api.key.created")
    assert (entry.actor, entry.user) == ("system", None)
    assert entry.details["job"] == "create_api_key"
    assert entry.details["operator"] == getpass.getuser()
    with scopes_disabled():
        assert getpass.getuser() in entry.description


def test_a_reset_second_factor_is_not_the_victim_s_doing(org, owner):
    TOTPDevice.objects.create(user=owner, name="phone", confirmed=True)
    call_command("reset_two_factor", owner.get_username(), stdout=io.StringIO())
    [entry] = _entries("organizations.auth.two_factor_disabled")
    assert (entry.actor, entry.user_id, entry.actor_name) == ("system", None, "")
    assert entry.details["operator"] == getpass.getuser()
    with scopes_disabled():
        # The account is what the entry is about, its subject; not who acted.
        assert {(s.kind, s.ref) for s in entry.subjects.all()} == {("member", str(owner.pk))}


def test_links_revoked_by_archiving_name_the_member(org, member, member_client):
    profile = factories.contact(org)
    dossier = factories.dossier(org, profile, [factories.field(org)])
    factories.token(dossier)
    member_client.post(f"/o/{org.slug}/profiles/{profile.uuid}/archive/")
    [entry] = _entries("dossiers.links.revoked")
    assert (entry.actor, entry.user) == ("member", member)


def test_links_revoked_through_the_api_name_the_key(org):
    import json

    from django.test import Client

    from api.actions import create_api_key
    from organizations.actors import Actor

    profile = factories.contact(org, email="old@example.com")
    factories.token(factories.dossier(org, profile, [factories.field(org)]))
    with scopes_disabled():
        issued = create_api_key(org, actor=Actor.system("test"), name="CRM", access="write")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {issued.key}").patch(
        f"/api/v1/profiles/{profile.uuid}/",
        json.dumps({"email": "new@example.com"}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    [entry] = _entries("dossiers.links.revoked")
    assert (entry.actor, entry.actor_name) == ("api_key", "CRM")


def test_webhook_test_and_resend_are_audited(org, owner_client, owner):
    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.create(
            organization=org, url="https://hooks.example.com/in", events=["value.changed"]
        )
    owner_client.post(f"/o/{org.slug}/settings/webhooks/{endpoint.uuid}/test/")
    with scopes_disabled():
        delivery = WebhookDelivery.objects.get()
    owner_client.post(f"/o/{org.slug}/settings/webhooks/deliveries/{delivery.uuid}/again/")
    [tested] = _entries("api.webhook.tested")
    [resent] = _entries("api.webhook.resent")
    assert (tested.user, tested.target) == (owner, endpoint.url)
    assert (resent.user, resent.details["delivery"]) == (owner, str(delivery.uuid))


def test_an_inline_preview_of_a_client_upload_is_audited(org, client, member_client, member):
    field = factories.field(org, "document", label="Proof")
    profile = factories.contact(org)
    dossier = factories.dossier(org, profile, [field])
    token = factories.token(dossier)
    with scopes_disabled():
        item = DossierItem.objects.get(dossier=dossier)
    upload = SimpleUploadedFile("p.pdf", factories.PDF, "application/pdf")
    client.post(f"/d/{token}/", {f"f_{field.uuid.hex}": upload, "action": "draft"})
    url = f"/o/{org.slug}/dossiers/{dossier.uuid}/items/{field.uuid.hex}/upload/?inline=1"
    response = member_client.get(url)
    assert response.status_code == 200
    [entry] = _entries("dossiers.upload.viewed")
    assert (entry.user, entry.details["field"]) == (member, "Proof")
    with scopes_disabled():
        assert item.dossier.uuid.hex in {s.ref.replace("-", "") for s in entry.subjects.all()}


def test_moving_a_field_is_audited(org, owner_client, owner):
    first = factories.field(org, label="First")
    factories.field(org, label="Second")
    owner_client.post(f"/o/{org.slug}/settings/field/{first.uuid}/move/", {"direction": "down"})
    [entry] = _entries("profiles.field.moved")
    assert (entry.user, entry.target, entry.details) == (
        owner,
        "First",
        {"position": "2", "of": "2"},
    )
    # Nowhere to go: nothing moved, nothing recorded.
    owner_client.post(f"/o/{org.slug}/settings/field/{first.uuid}/move/", {"direction": "down"})
    assert len(_entries("profiles.field.moved")) == 1
