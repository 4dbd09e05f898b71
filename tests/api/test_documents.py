"""Documents set through the API: checked by content, stored, written through the one path."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled

from profiles.models import Document, FieldValue, FieldValueHistory
from tests import factories
from tests.api.conftest import issue

pytestmark = pytest.mark.django_db


def _upload(api, profile, field, content=factories.PDF, name="passport.pdf"):
    return api.post(
        f"/api/v1/profiles/{profile.uuid}/documents/",
        {"field": str(field.uuid), "file": SimpleUploadedFile(name, content)},
    )


def test_a_document_is_uploaded_and_becomes_the_value(api, org, write_key):
    profile = factories.contact(org)
    proof = factories.field(org, "document", label="Passport")
    response = _upload(api, profile, proof)
    assert response.status_code == 201, response.json()
    value = response.json()
    assert value["label"] == "Passport" and value["document"] == value["value"]
    with scopes_disabled():
        row = FieldValueHistory.objects.get(profile=profile)
        document = Document.objects.get(uuid=value["document"])
    assert (row.api_key_uuid, row.api_key_name) == (write_key[0].uuid, write_key[0].name)
    assert row.source == "api"
    assert document.content_type == "application/pdf" and document.name == "passport.pdf"
    download = api.get(f"/api/v1/documents/{document.uuid}/")
    assert b"".join(download.streaming_content) == factories.PDF


def test_a_file_is_checked_by_its_content_and_the_field_by_its_type(api, org):
    profile = factories.contact(org)
    proof = factories.field(org, "document", accepted_types=["pdf"])
    text = factories.field(org, "text")
    bad = _upload(api, profile, proof, content=factories.EXE, name="passport.pdf")
    assert bad.status_code == 400
    assert [(e["attr"], e["code"]) for e in bad.json()["errors"]] == [("file", "bad_type")]
    wrong = _upload(api, profile, text)
    assert [e["attr"] for e in wrong.json()["errors"]] == ["field"]
    empty = _upload(api, profile, proof, content=b"")
    assert empty.status_code == 400
    with scopes_disabled():
        assert not Document.objects.exists() and not FieldValue.objects.exists()


def test_with_storage_down_nothing_is_written(write_key, org, s3_storage, settings):
    from tests.conftest import _free_port

    # A 503 is reported like a server error (logged for operators): the client must not raise.
    api = Client(HTTP_AUTHORIZATION=f"Bearer {write_key[1]}", raise_request_exception=False)
    profile = factories.contact(org)
    proof = factories.field(org, "document")
    dead = f"http://127.0.0.1:{_free_port()}"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            **settings.STORAGES["default"],
            "OPTIONS": {**settings.STORAGES["default"]["OPTIONS"], "endpoint_url": dead},
        },
    }
    response = _upload(api, profile, proof)
    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "storage_unavailable"
    with scopes_disabled():
        assert not Document.objects.exists() and not FieldValue.objects.exists()


def test_a_read_write_key_sends_documents_as_large_as_a_members(api, org, settings):
    profile = factories.contact(org)
    proof = factories.field(org, "document", max_size_mb=2)
    large = factories.large_pdf(600 * 1024)  # over the anonymous body limit
    assert _upload(api, profile, proof, content=large).status_code == 201
    read_only = Client(HTTP_AUTHORIZATION=f"Bearer {issue(org, access='read')[1]}")
    for client in (read_only, Client()):
        refused = _upload(client, profile, proof, content=large)
        assert refused.status_code == 413
