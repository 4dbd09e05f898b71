"""A document is stored and downloaded under the extension of its content, not the client's."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled

from dossiers.models import DossierItem
from profiles.models import Document, FieldValue
from profiles.uploads import name_for_type
from tests import factories

pytestmark = pytest.mark.django_db

DANGEROUS = ["statement.cmd", "statement.html", "statement.hta", "statement.pdf.exe", "statement"]


def _download_name(response) -> str:
    return response["Content-Disposition"].split("filename=", 1)[1].strip('"')


@pytest.mark.parametrize("name", DANGEROUS)
def test_a_staff_upload_takes_the_extension_of_its_content(owner_client, org, name):
    field = factories.field(org, "document")
    profile = factories.contact(org)
    upload = SimpleUploadedFile(name, factories.PDF, "application/x-msdownload")
    response = owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/values/", {f"f_{field.uuid.hex}": upload}
    )
    assert response.status_code == 302
    with scopes_disabled():
        document = FieldValue.objects.select_related("document").get().document
    assert document.name.endswith(".pdf") and document.name.startswith("statement")
    assert document.file.name.endswith(".pdf")
    download = owner_client.get(f"/o/{org.slug}/documents/{document.uuid}/")
    assert _download_name(download).endswith(".pdf")


@pytest.mark.parametrize("name", DANGEROUS)
def test_a_portal_upload_takes_the_extension_of_its_content(org, name):
    field = factories.field(org, "document")
    dossier = factories.dossier(org, factories.contact(org), [field])
    with scopes_disabled():
        item = DossierItem.objects.get(dossier=dossier)
    token = factories.token(dossier)
    upload = SimpleUploadedFile(name, factories.PNG, "text/html")
    response = Client().post(
        f"/d/{token}/", {f"f_{item.field.uuid.hex}": upload, "action": "draft"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        item.refresh_from_db()
    assert item.upload_name.endswith(".png") and item.upload_name.startswith("statement")
    assert item.upload.name.endswith(".png")
    assert item.upload_content_type == "image/png"


def test_a_document_stored_under_the_clients_extension_downloads_under_its_type(owner_client, org):
    # Rows written before the fix keep their name; the download corrects it.
    field = factories.field(org, "document")
    profile = factories.contact(org)
    key = default_storage.save("documents/legacy", ContentFile(factories.PDF))
    with scopes_disabled():
        document = Document.objects.create(
            organization=org,
            profile=profile,
            field=field,
            file=key,
            name="statement.cmd",
            content_type="application/pdf",
            size=len(factories.PDF),
        )
    response = owner_client.get(f"/o/{org.slug}/documents/{document.uuid}/")
    assert _download_name(response) == "statement.pdf"


@pytest.mark.parametrize(
    ("name", "content_type", "expected"),
    [
        ("scan.JPG", "image/jpeg", "scan.jpg"),
        ("scan.jpeg", "image/jpeg", "scan.jpeg"),
        ("scan.png", "image/jpeg", "scan.jpg"),
        ("run.cmd", "application/pdf", "run.pdf"),
        ("archive.tar.gz", "application/pdf", "archive.tar.pdf"),
        ("", "application/pdf", "document.pdf"),
        ("..", "image/png", "document.png"),
        ("page.html", "text/html", "page.bin"),
        ("IMG_0042.HEIC", "image/heic", "IMG_0042.heic"),
        ("IMG_0042.HEIC", "image/jpeg", "IMG_0042.jpg"),
    ],
)
def test_name_for_type(name, content_type, expected):
    assert name_for_type(name, content_type) == expected
