from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from botocore.client import BaseClient
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem
from dossiers.opening import open_dossiers
from dossiers.retention import purge_dossiers
from profiles.models import Profile
from tests import factories

pytestmark = pytest.mark.django_db


def test_the_purge_deletes_s3_uploads_in_batches(
    org, s3_storage, settings, django_capture_on_commit_callbacks
):
    # The batch is 1,000 keys in production; 10 here proves the batching with 25 uploads.
    settings.S3_DELETE_BATCH_SIZE = 10
    field = factories.field(org, "document")
    keys = [default_storage.save(f"documents/k{i}", ContentFile(b"%PDF")) for i in range(25)]
    with scopes_disabled():
        profiles = Profile.objects.bulk_create(
            Profile(organization=org, kind="contact", email=f"{i}@example.com")
            for i in range(len(keys))
        )
        open_dossiers(org, [p.pk for p in profiles], [field], kind="update", title="KYC")
        items = list(DossierItem.objects.order_by("id"))
        for item, key in zip(items, keys, strict=True):
            item.upload = key
        DossierItem.objects.bulk_update(items, ["upload"])
        Dossier.objects.update(created_at=timezone.now() - dt.timedelta(days=40))
    calls = []
    original = BaseClient._make_api_call

    def spy(self, operation, params):
        calls.append(operation)
        return original(self, operation, params)

    with (
        mock.patch.object(BaseClient, "_make_api_call", spy),
        scopes_disabled(),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert purge_dossiers(batch_size=2000) == 25
    assert calls.count("DeleteObjects") == 3
    assert not any(default_storage.exists(k) for k in keys)
