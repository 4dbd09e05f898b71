from __future__ import annotations

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from profiles.models import FieldValue
from tests import factories

pytestmark = pytest.mark.django_db


def test_documents_are_stored_in_and_read_from_s3(
    owner_client, org, owner, s3_storage, s3_endpoint
):
    from django.core.files.storage import storages

    assert type(storages["default"]).__name__ == "S3Storage"
    field = factories.field(org, "document")
    profile = factories.contact(org)
    upload = SimpleUploadedFile("kyc.pdf", factories.PDF, "application/pdf")
    response = owner_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/values/", {f"f_{field.uuid.hex}": upload}
    )
    assert response.status_code == 302
    with scopes_disabled():
        document = FieldValue.objects.get(profile=profile).document

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stored = s3.get_object(Bucket=s3_storage, Key=document.file.name)
    assert stored["Body"].read() == factories.PDF
    assert "kyc" not in document.file.name

    response = owner_client.get(f"/o/{org.slug}/documents/{document.uuid}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == factories.PDF
