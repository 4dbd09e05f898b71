"""Storage faults made ordinary: errors a page can explain, and deletions that cannot be lost."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.files import File
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


# The types stored as sent and shown in review through a JPEG copy (profiles.previews), by
# the extension their keys take (profiles.uploads.name_for_type).
CONVERTED_EXTENSIONS = {".heic"}


def preview_key(key: str) -> str | None:
    """Where the copy of the file stored under `key` lives, if its type has one.

    Derived from the key rather than recorded beside it: whatever deletes a file deletes
    its copy too, with no column to keep in step.
    """
    stem, extension = os.path.splitext(key)
    if extension.lower() not in CONVERTED_EXTENSIONS:
        return None
    return f"{stem}.preview.jpg"


def with_previews(keys: Iterable[str]) -> Iterator[str]:
    """The keys and the keys of their copies: what deleting these files must delete."""
    for key in keys:
        yield key
        preview = preview_key(key)
        if preview is not None:
            yield preview


class StorageUnavailable(Exception):
    """Storage did not answer. Nothing was half-done: files stored before the failure are
    recorded for deletion; a request shows the storage_unavailable page (see middleware)."""


def forget(keys: Iterable[str]) -> None:
    """Records files that nothing points to any more, with their preview copies, in the caller's
    transaction, and deletes them once it commits. A failed delete stays recorded for the sweep."""
    rows = PendingDeletion.objects.bulk_create(
        PendingDeletion(key=key) for key in with_previews(keys) if key
    )
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


def pending_count() -> int:
    """Files recorded for deletion and not yet deleted (the operators' metrics): a few rows
    between a commit and its delete, more while storage refuses."""
    return PendingDeletion.objects.count()


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
    opened: FieldFile = _fetched(lambda: file.open("rb"), file.name or "")
    return opened


def open_stored(key: str) -> File:
    """A stored file by its key, opened and fetched as open_for_download does."""
    return _fetched(lambda: default_storage.open(key, "rb"), key)


def _fetched(opener: Callable[[], Any], name: str) -> Any:
    try:
        handle = opener()
        # S3 fetches lazily, in the middle of the response; reading the first byte makes the
        # request here.
        handle.read(1)
        handle.seek(0)
    except FileNotFoundError:
        raise Http404 from None
    except STORAGE_ERRORS as error:
        response = getattr(error, "response", None) or {}
        if response.get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            raise Http404 from None
        logger.warning("Storage unavailable while opening %s: %s", name, error)
        raise StorageUnavailable from error
    return handle
