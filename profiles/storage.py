"""Storage faults made ordinary: errors a page can explain, and deletions that cannot be lost."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F
from django.db.models.fields.files import FieldFile
from django.http import Http404

from profiles.models import PendingDeletion

logger = logging.getLogger(__name__)

SWEEP = "profiles.tasks.delete_pending_files"
CHUNK = 1000

try:
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # pragma: no cover - botocore comes with django-storages[s3]
    STORAGE_ERRORS: tuple[type[Exception], ...] = (OSError,)
else:
    # Timeouts, refused connections and the endpoint's 5xx are all among these.
    STORAGE_ERRORS = (OSError, BotoCoreError, ClientError)


class StorageUnavailable(Exception):
    """Storage did not answer. Nothing was half-done: files stored before the failure are
    recorded for deletion; a request shows the storage_unavailable page (see middleware)."""


def forget(keys: Iterable[str]) -> None:
    """Records files that nothing points to any more, in the caller's transaction, and deletes
    them once it commits. A failed delete stays recorded for the sweep."""
    rows = PendingDeletion.objects.bulk_create(PendingDeletion(key=key) for key in keys if key)
    if rows:
        ids = [row.pk for row in rows]
        transaction.on_commit(lambda: delete_pending(ids))


def delete_pending(ids: list[int] | None = None) -> int:
    """Deletes recorded files, a thousand per storage request on S3; returns how many.

    With `ids`, those rows (right after the commit that recorded them); without, every row,
    oldest first (the sweep). Stops at the first storage error, leaving the rest recorded.
    """
    deleted = 0
    last = 0
    while True:
        rows = PendingDeletion.objects.filter(pk__gt=last).order_by("pk")
        if ids is not None:
            rows = rows.filter(pk__in=ids)
        chunk = list(rows.values_list("pk", "key")[:CHUNK])
        if not chunk:
            return deleted
        pks = [pk for pk, _key in chunk]
        try:
            delete_keys([key for _pk, key in chunk])
        except STORAGE_ERRORS as error:
            logger.warning(
                "Deleting %d files failed (%s); the sweep %s retries", len(chunk), error, SWEEP
            )
            PendingDeletion.objects.filter(pk__in=pks).update(
                attempts=F("attempts") + 1, last_error=str(error)[:500]
            )
            return deleted
        PendingDeletion.objects.filter(pk__in=pks).delete()
        deleted += len(chunk)
        last = pks[-1]


def delete_keys(keys: list[str]) -> None:
    """One `DeleteObjects` request per S3_DELETE_BATCH_SIZE keys on S3, one call per file
    elsewhere."""
    bucket = getattr(default_storage, "bucket", None)
    if bucket is None:
        for key in keys:
            default_storage.delete(key)
        return
    size = settings.S3_DELETE_BATCH_SIZE
    for start in range(0, len(keys), size):
        response = bucket.delete_objects(
            Delete={"Objects": [{"Key": key} for key in keys[start : start + size]], "Quiet": True}
        )
        if response.get("Errors"):
            raise OSError(f"storage refused to delete {len(response['Errors'])} files")


def open_for_download(file: FieldFile) -> FieldFile:
    """Opens a stored file and fetches it now, while a storage error can still become a page.

    A missing file is a 404; storage down is StorageUnavailable.
    """
    try:
        file.open("rb")
        # S3 fetches lazily, in the middle of the response; reading the first byte makes the
        # request here.
        file.read(1)
        file.seek(0)
    except FileNotFoundError:
        raise Http404 from None
    except STORAGE_ERRORS as error:
        response = getattr(error, "response", None) or {}
        if response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise Http404 from None
        logger.warning("Storage unavailable while opening %s: %s", file.name, error)
        raise StorageUnavailable from error
    return file
