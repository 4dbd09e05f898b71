"""Per profile: an export of everything held, and an erasure down to storage."""

from __future__ import annotations

import io
import json
import os
import runpy
import uuid
import zipfile
from unittest import mock

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled

from dossiers.models import AccessToken, Dossier, DossierItem, DossierRecord
from organizations.models import AuditEntry, record_audit
from profiles.models import Document, FieldValue, FieldValueHistory, Profile
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(org, owner_client):
    """A contact with a value, a replaced document (two files), history, a dossier with an
    upload not yet written back, a link, a purged dossier's record and audit entries."""
    text = factories.field(org, "text", label="Job")
    doc = factories.field(org, "document", label="Proof")
    profile = factories.contact(org, first_name="Eve", last_name="Target", email="eve@example.com")
    url = f"/o/{org.slug}/profiles/{profile.uuid}/values/"
    for upload in (
        SimpleUploadedFile("a.pdf", factories.PDF),
        SimpleUploadedFile("b.png", factories.PNG),
    ):
        owner_client.post(url, {f"f_{text.uuid.hex}": "Baker", f"f_{doc.uuid.hex}": upload})
    dossier = factories.dossier(org, profile, [doc])
    token = factories.token(dossier, profile)
    with scopes_disabled():
        item = DossierItem.objects.get(dossier=dossier)
    Client().post(
        f"/d/{token}/",
        {f"f_{item.field.uuid.hex}": SimpleUploadedFile("c.pdf", factories.PDF), "action": "draft"},
    )
    with scopes_disabled():
        item.refresh_from_db()
        assert item.upload
        DossierRecord.objects.create(
            organization=org,
            profile=profile,
            dossier_uuid=uuid.uuid4(),
            kind="update",
            title="Old KYC",
            recipients="Eve Target <eve@example.com>",
            created_at=dossier.created_at,
            expires_at=dossier.expires_at,
            outcome="expired",
        )
        # By reference, as the actions record it: the profile is the entry's subject.
        record_audit(org, None, "profiles.profile.updated", profile, email_after="eve@example.com")
        keys = [d.file.name for d in Document.objects.filter(profile=profile)] + [item.upload.name]
    assert len(keys) == 3 and all(default_storage.exists(k) for k in keys)
    return {"profile": profile, "keys": keys, "token": token}


def test_the_export_holds_everything_about_the_person(owner_client, org, person):
    profile = person["profile"]
    response = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/privacy/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    index = json.loads(archive.read("index.json"))
    records = index["records"]
    assert records["profiles"]["profile"]["email"] == "eve@example.com"
    assert [v["field"] for v in records["profiles"]["values"]] == ["Job", "Proof"]
    assert len(records["profiles"]["history"]) == 3
    assert records["dossiers"]["dossiers"][0]["items"][0]["upload"] == "c.pdf"
    assert records["dossiers"]["purged_dossiers"][0]["title"] == "Old KYC"
    assert any(e["object"] == "Eve Target" for e in records["organizations"]["audit_entries"])
    files = [f["path"] for f in index["files"]]
    assert len(files) == 3 and not any(f.get("missing") for f in index["files"])
    assert archive.read(files[0]) in {factories.PDF, factories.PNG}
    with scopes_disabled():
        assert AuditEntry.objects.filter(action="profiles.profile.exported").exists()


def _erase(client, org, profile):
    return client.post(f"/o/{org.slug}/profiles/{profile.uuid}/privacy/erase/", {"confirm": "on"})


def _assert_nothing_left(org, person) -> None:
    profile = person["profile"]
    with scopes_disabled():
        assert not Profile.objects.filter(pk=profile.pk).exists()
        assert not FieldValue.objects.exists() and not FieldValueHistory.objects.exists()
        assert not Document.objects.exists() and not Dossier.objects.exists()
        assert not DossierRecord.objects.exists() and not AccessToken.objects.exists()
        entries = list(AuditEntry.objects.all())
    assert not any(default_storage.exists(k) for k in person["keys"])
    # What stays says an erasure happened, and names nobody.
    text = json.dumps([(e.target, e.details) for e in entries])
    assert "Eve" not in text and "eve@example.com" not in text and str(profile.uuid) not in text
    assert any(e.action == "profiles.profile.erased" for e in entries)


def test_the_erasure_removes_every_row_and_every_file(owner_client, org, person):
    page = owner_client.get(f"/o/{org.slug}/profiles/{person['profile'].uuid}/privacy/erase/")
    assert page.status_code == 200
    response = _erase(owner_client, org, person["profile"])
    assert response.status_code == 302
    _assert_nothing_left(org, person)
    assert Client().get(f"/d/{person['token']}/").status_code == 404


def test_the_erasure_needs_its_confirmation(owner_client, org, person):
    response = owner_client.post(
        f"/o/{org.slug}/profiles/{person['profile'].uuid}/privacy/erase/", {"confirm": ""}
    )
    assert response.status_code == 200 and response.context["form"].errors["confirm"]
    with scopes_disabled():
        assert Profile.objects.filter(pk=person["profile"].pk).exists()


def test_with_the_s3_endpoint_down_nothing_is_erased(owner_client, org, s3_storage, settings):
    from tests.conftest import _free_port

    field = factories.field(org, "document")
    profile = factories.contact(org)
    owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/values/",
        {f"f_{field.uuid.hex}": SimpleUploadedFile("a.pdf", factories.PDF)},
    )
    working = settings.STORAGES
    options = working["default"]["OPTIONS"]
    dead = {**options, "endpoint_url": f"http://127.0.0.1:{_free_port()}"}
    settings.STORAGES = {**working, "default": {**working["default"], "OPTIONS": dead}}
    response = _erase(owner_client, org, profile)
    assert response.status_code == 200
    assert "nothing was erased" in response.text
    settings.STORAGES = working
    with scopes_disabled():
        assert Profile.objects.filter(pk=profile.pk).exists()
        assert default_storage.exists(Document.objects.get().file.name)


def test_export_and_erasure_are_for_admins_only(member_client, org, person):
    profile = person["profile"]
    base = f"/o/{org.slug}/profiles/{profile.uuid}/privacy/"
    assert member_client.get(base + "export/").status_code == 403
    assert _erase(member_client, org, profile).status_code == 403


@pytest.fixture
def encrypted_s3(settings, s3_endpoint):
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_S3_SERVER_SIDE_ENCRYPTION": "AES256",
    }
    with mock.patch.dict(os.environ, env):
        built = runpy.run_path(str(settings.BASE_DIR / "config" / "settings.py"))
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = built["STORAGES"]
    return client, bucket


def test_documents_at_rest_on_s3_are_encrypted_by_the_server(encrypted_s3):
    client, bucket = encrypted_s3
    key = default_storage.save("documents/x.pdf", ContentFile(factories.PDF))
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "AES256"


def test_the_erasure_leaves_no_file_on_s3(owner_client, org, s3_storage):
    client = boto3.client(
        "s3",
        endpoint_url=default_storage.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    field = factories.field(org, "document")
    profile = factories.contact(org)
    owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/values/",
        {f"f_{field.uuid.hex}": SimpleUploadedFile("a.pdf", factories.PDF)},
    )
    assert client.list_objects_v2(Bucket=s3_storage).get("KeyCount") == 1
    assert _erase(owner_client, org, profile).status_code == 302
    assert client.list_objects_v2(Bucket=s3_storage).get("KeyCount") == 0


def test_the_export_holds_the_messages_sent_and_what_members_did(owner_client, org, person):
    from dossiers.foureyes import record_link_sent
    from dossiers.messages import RESEND, queue_link_messages
    from organizations.actors import Actor
    from outbox.models import DeliveryEvent, Message
    from tests.conftest import make_member

    profile = person["profile"]
    colleague = make_member(org, "colleague", "staff")
    with scopes_disabled():
        dossier = Dossier.objects.get(profile=profile)
        queue_link_messages([dossier.pk], RESEND, again=True)
        record_link_sent(dossier, actor=Actor.member(colleague))
        message = Message.objects.get(dossier_link__dossier=dossier, kind=RESEND)
        DeliveryEvent.objects.create(
            organization=org,
            message=message,
            key="evt-1",
            service="postmark",
            kind="delivered",
            description="250 OK",
        )
    response = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/privacy/export/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    records = json.loads(archive.read("index.json"))["records"]["dossiers"]
    [sent] = [m for m in records["messages"] if m["kind"] == RESEND]
    assert (sent["kind"], sent["address"], sent["to_this_person"]) == (
        RESEND,
        "eve@example.com",
        True,
    )
    assert sent["dossier_uuid"] == str(dossier.uuid)
    assert [e["event"] for e in sent["events"]] == ["delivered"]
    [act] = records["interventions"]
    assert act["kind"] == "link_sent" and act["dossier_uuid"] == str(dossier.uuid)
    # The member who acted is not the person's data.
    assert "colleague" not in json.dumps(records)
