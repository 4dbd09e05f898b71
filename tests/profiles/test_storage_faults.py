"""S3 down (its server frozen) in every request path and during the purge: a clear page, no
500, and never a file that nothing points to once storage is back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem
from dossiers.retention import purge_dossiers
from profiles.models import Document, FieldValue, PendingDeletion
from profiles.tasks import delete_pending_files
from tests import factories

pytestmark = pytest.mark.django_db


def _referenced() -> set[str]:
    with scopes_disabled():
        return set(Document.objects.values_list("file", flat=True)) | set(
            DossierItem.objects.exclude(upload="").values_list("upload", flat=True)
        )


def test_s3_down_during_the_purge_leaves_nothing_unreferenced_once_it_is_back(
    org, stoppable_s3, django_capture_on_commit_callbacks
):
    field = factories.field(org, "document")
    profile = factories.contact(org)
    kept = default_storage.save("documents/kept", ContentFile(factories.PDF))
    with scopes_disabled():
        Document.objects.create(
            organization=org, profile=profile, field=field, file=kept, name="k.pdf", size=1
        )
    dossiers = [
        factories.dossier(org, factories.contact(org, email=f"{i}@x.org"), [field], kind="update")
        for i in range(3)
    ]
    with scopes_disabled():
        for i, dossier in enumerate(dossiers):
            key = default_storage.save(f"uploads/draft{i}", ContentFile(factories.PDF))
            DossierItem.objects.filter(dossier=dossier).update(upload=key)
        Dossier.objects.update(created_at=timezone.now() - dt.timedelta(days=40))
    assert len(stoppable_s3.keys()) == 4

    stoppable_s3.stop()
    with scopes_disabled(), django_capture_on_commit_callbacks(execute=True):
        assert purge_dossiers() == 3  # the rows go; the deletes fail and stay recorded
    with scopes_disabled():
        assert not Dossier.objects.exists()
    assert PendingDeletion.objects.count() == 3
    assert delete_pending_files() == 0  # the sweep while storage is still down: no harm

    stoppable_s3.start()
    assert delete_pending_files() == 3
    assert not PendingDeletion.objects.exists()
    assert stoppable_s3.keys() == _referenced() == {kept}


def test_a_replaced_draft_upload_is_deleted_later_if_s3_is_down_after_the_save(
    org, stoppable_s3, django_capture_on_commit_callbacks
):
    field = factories.field(org, "document", label="Proof")
    dossier = factories.dossier(org, factories.contact(org), [field])
    token = factories.token(dossier)
    name = f"f_{field.uuid.hex}"
    client = Client()
    for filename in ("a.pdf", "b.pdf"):
        with django_capture_on_commit_callbacks() as callbacks:
            upload = SimpleUploadedFile(filename, factories.PDF, "application/pdf")
            response = client.post(f"/d/{token}/", {name: upload, "action": "draft"})
        assert response.status_code == 302
    stoppable_s3.stop()
    for callback in callbacks:  # the replaced file's delete, after the commit
        callback()
    assert PendingDeletion.objects.count() == 1
    stoppable_s3.start()
    assert delete_pending_files() == 1
    assert stoppable_s3.keys() == _referenced()
    assert len(stoppable_s3.keys()) == 1


def test_a_staff_download_with_s3_down_is_a_clear_page(owner_client, org, owner, stoppable_s3):
    field = factories.field(org, "document")
    profile = factories.contact(org)
    upload = SimpleUploadedFile("kyc.pdf", factories.PDF, "application/pdf")
    url = f"/o/{org.slug}/profiles/{profile.uuid}/values/"
    assert owner_client.post(url, {f"f_{field.uuid.hex}": upload}).status_code == 302
    with scopes_disabled():
        document = FieldValue.objects.get(profile=profile).document
    stoppable_s3.stop()
    response = owner_client.get(f"/o/{org.slug}/documents/{document.uuid}/")
    assert response.status_code == 503
    assert "not answering just now" in response.text
    stoppable_s3.start()
    response = owner_client.get(f"/o/{org.slug}/documents/{document.uuid}/")
    assert b"".join(response.streaming_content) == factories.PDF


def test_a_staff_upload_with_s3_down_saves_nothing_and_says_so(
    owner_client, org, owner, stoppable_s3
):
    field = factories.field(org, "document")
    text = factories.field(org, "text")
    profile = factories.contact(org)
    stoppable_s3.stop()
    response = owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/values/",
        {
            f"f_{field.uuid.hex}": SimpleUploadedFile("a.pdf", factories.PDF, "application/pdf"),
            f"f_{text.uuid.hex}": "typed",
        },
    )
    assert response.status_code == 200
    assert "could not be stored just now" in response.text
    assert 'value="typed"' in response.text
    with scopes_disabled():
        assert not FieldValue.objects.filter(profile=profile).exists()
        assert not Document.objects.exists()


def test_a_clients_download_with_s3_down_is_a_clear_page(owner_client, org, owner, stoppable_s3):
    field = factories.field(org, "document")
    profile = factories.contact(org)
    upload = SimpleUploadedFile("kyc.pdf", factories.PDF, "application/pdf")
    url = f"/o/{org.slug}/profiles/{profile.uuid}/values/"
    assert owner_client.post(url, {f"f_{field.uuid.hex}": upload}).status_code == 302
    dossier = factories.dossier(org, profile, [field])
    token = factories.token(dossier)
    stoppable_s3.stop()
    response = Client().get(f"/d/{token}/files/{field.uuid}/")
    assert response.status_code == 503
    assert "not answering just now" in response.text


def test_cron_only_installs_delete_pending_files_with_a_command(org, capsys):
    key = default_storage.save("uploads/left", ContentFile(factories.PDF))
    PendingDeletion.objects.create(key=key)
    call_command("delete_pending_files")
    assert "1 file(s) deleted." in capsys.readouterr().out
    assert not default_storage.exists(key) and not PendingDeletion.objects.exists()
