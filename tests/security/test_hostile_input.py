"""Hostile input for every field type and for uploads: a clear error or stored and shown
escaped; never a server error; never half-written."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem
from profiles.models import FieldValue, FieldValueHistory
from tests import factories

pytestmark = pytest.mark.django_db

TYPES = ["text", "long_text", "number", "date", "email", "phone", "choice", "boolean"]
HOSTILE_TEXT = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ request.user }} {% debug %}",
    "' OR 1=1; DROP TABLE profiles_profile; --",
    "../../../../etc/passwd",
    "\u202egnp.exe",  # right-to-left override
    "zero\u200bwidth\ufeff",
    "e\u0301\u0301\u0301 combining",
    "😀👩‍👩‍👧‍👦 emoji",
    "nul\x00byte",
    "x" * 100_000,
    "",
    "   ",
    "1e309",
    "-" + "9" * 400,
    "NaN",
    "Infinity",
    "2023-02-29",
    "0000-00-00",
    "9999-99-99",
    "31/12/2024",
    "+" * 50,
    "\r\n\r\n",
]
HOSTILE_FILES = [
    ("run.pdf", factories.EXE, "application/pdf"),
    ("empty.pdf", b"", "application/pdf"),
    ("../../../etc/cron.d/x.pdf", factories.PDF, "application/pdf"),
    ("..\\..\\windows\\system32.pdf", factories.PDF, "application/pdf"),
    ("page.pdf", b"<html><script>alert(1)</script></html>", "text/html"),
    ("\u202efdp.exe", factories.PDF, "application/pdf"),
    ("x" * 300 + ".pdf", factories.PDF, "application/pdf"),
    ("image.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 10, "image/png"),
    ("big.pdf", factories.PDF + b"0" * (1024 * 1024), "application/pdf"),
    (
        "svg.pdf",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>1</script></svg>',
        "image/svg+xml",
    ),
    ("nul\x00.pdf", factories.PDF, "application/pdf"),
    ("statement.cmd", factories.PDF, "application/pdf"),
    ("statement.html", factories.PDF, "text/html"),
    ("statement.hta", factories.PNG, "application/hta"),
    ("statement.pdf.exe", factories.PDF, "application/x-msdownload"),
]
ACCEPTED = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
TRIED = {"text": len(TYPES) * len(HOSTILE_TEXT) * 2, "files": len(HOSTILE_FILES) * 2}


def _assert_escaped(html: str) -> None:
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x onerror" not in html


@pytest.mark.parametrize("type_", TYPES)
def test_hostile_text_in_staff_forms(owner_client, org, type_):
    field = factories.field(org, type_, choices=["A", "B"] if type_ == "choice" else [])
    other = factories.field(org, "text")
    profile = factories.contact(org)
    url = f"/o/{org.slug}/profiles/{profile.uuid}/values/"
    for raw in HOSTILE_TEXT:
        response = owner_client.post(url, {f"f_{field.uuid.hex}": raw, f"f_{other.uuid.hex}": "ok"})
        assert response.status_code in {200, 302}, raw
        if response.status_code == 200:  # refused: nothing of the form was written
            assert response.context["form"].errors
            with scopes_disabled():
                assert not FieldValue.objects.exists()
        page = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/")
        assert page.status_code == 200
        _assert_escaped(page.text)
        with scopes_disabled():
            FieldValue.objects.all().delete()
            FieldValueHistory.objects.all().delete()


@pytest.mark.parametrize("type_", TYPES)
def test_hostile_text_in_the_portal(org, type_):
    field = factories.field(org, type_, choices=["A", "B"] if type_ == "choice" else [])
    profile = factories.contact(org)
    dossier = factories.dossier(org, profile, [field])
    with scopes_disabled():
        name = f"f_{DossierItem.objects.get(dossier=dossier).field.uuid.hex}"
    token = factories.token(dossier)
    client = Client()
    for raw in HOSTILE_TEXT:
        response = client.post(f"/d/{token}/", {name: raw, "action": "draft"})
        assert response.status_code in {200, 302}, raw
        page = client.get(f"/d/{token}/")
        assert page.status_code == 200
        _assert_escaped(page.text)
    with scopes_disabled():
        assert Dossier.objects.get().status in {"open", "in_progress"}
        assert not FieldValue.objects.exists()


@pytest.mark.parametrize(("name", "content", "content_type"), HOSTILE_FILES)
def test_hostile_uploads(owner_client, org, name, content, content_type):
    field = factories.field(org, "document", max_size_mb=1)
    profile = factories.contact(org)
    upload = SimpleUploadedFile(name, content, content_type)
    response = owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/values/", {f"f_{field.uuid.hex}": upload}
    )
    assert response.status_code in {200, 302}
    with scopes_disabled():
        value = FieldValue.objects.select_related("document").filter(field=field).first()
    if value is not None:
        # Accepted only for content of an accepted type, under a clean name and a random key.
        _assert_stored_safely(
            value.document.name, value.document.file.name, value.document.content_type
        )
    else:
        assert response.context["form"].errors

    dossier = factories.dossier(org, factories.contact(org, email="p@example.com"), [field])
    with scopes_disabled():
        item = DossierItem.objects.get(dossier=dossier)
    token = factories.token(dossier)
    upload = SimpleUploadedFile(name, content, content_type)
    response = Client().post(
        f"/d/{token}/", {f"f_{item.field.uuid.hex}": upload, "action": "submit"}
    )
    assert response.status_code in {200, 302}
    with scopes_disabled():
        dossier.refresh_from_db()
        item.refresh_from_db()
    if response.status_code == 200:
        assert response.context["form"].errors
        assert dossier.status == "opened"
        assert not item.upload
    else:
        # Accepted: held by the item, or already written back to the profile, under the
        # same rules as a staff upload.
        document = item.written_document
        if document is not None:
            _assert_stored_safely(document.name, document.file.name, document.content_type)
        else:
            assert item.upload
            _assert_stored_safely(item.upload_name, item.upload.name, item.upload_content_type)


def _assert_stored_safely(name: str, key: str, content_type: str) -> None:
    """Accepted only for content of an accepted type, under a clean name and a random key,
    both ending in the extension of the type read from the content."""
    assert content_type in ACCEPTED
    assert "/" not in name and "\\" not in name
    assert "\x00" not in name and "\u202e" not in name
    assert name.endswith(ACCEPTED[content_type])
    assert key.startswith("documents/") and key.endswith(ACCEPTED[content_type])


def test_nonsense_urls_and_parameters_are_never_server_errors(owner_client, org):
    for url in [
        f"/o/{org.slug}/contacts/?page=-1",
        f"/o/{org.slug}/contacts/?page=99999999999999999999",
        f"/o/{org.slug}/contacts/?q=%00%00",
        f"/o/{org.slug}/contacts/?status=<script>",
        f"/o/{org.slug}/dossiers/?group=../../&kind=x&status=y",
        f"/o/{org.slug}/profiles/not-a-uuid/",
        f"/o/{org.slug}/profiles/{factories.contact(org).uuid}/history/?field=not-a-uuid",
        f"/o/{org.slug}/settings/audit/?action=%27",
        "/d/" + "A" * 5000 + "/",
        "/d/%00/",
        f"/o/{org.slug}/settings/audit/?since=not-a-date&until=9999-99-99&user=abc&app=<x>",
        f"/o/{org.slug}/settings/audit/export.csv?action=%27&user=-1",
        "/invitation/" + "A" * 5000 + "/",
        "/invitation/%00/",
        "/login/code/",
        "/password/reset/MQ/%00-not-a-token/",
    ]:
        assert owner_client.get(url).status_code in {200, 302, 404}, url
