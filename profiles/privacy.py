"""The duties of a processor towards one person: everything held about them, or nothing.

Each app holds part of a profile's data and answers for it through three `AppConfig` hooks,
so this module imports no app to its right:

- `privacy_records(profile)`: the app's rows about the person, as JSON-ready dicts;
- `privacy_files(profile)`: the stored files, as (path in the export, storage key);
- `privacy_erase(profile)`: deletes the app's rows, inside the erasure's transaction.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import zipfile
from collections.abc import Iterator
from typing import Any

from django.apps import AppConfig, apps
from django.core.files.storage import default_storage
from django.utils import timezone

from profiles import fieldtypes
from profiles.models import Document, FieldValue, FieldValueHistory, Profile
from profiles.storage import with_previews


def _hooks(name: str) -> Iterator[tuple[AppConfig, Any]]:
    for config in apps.get_app_configs():
        hook = getattr(config, name, None)
        if hook is not None:
            yield config, hook


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def rows(queryset: Any, fields: list[str]) -> list[dict[str, Any]]:
    return [
        {name: _plain(value) for name, value in row.items()} for row in queryset.values(*fields)
    ]


# The hooks of this app.


def records(profile: Profile) -> dict[str, Any]:
    identity = {
        name: _plain(getattr(profile, name))
        for name in (
            "uuid",
            "kind",
            "first_name",
            "last_name",
            "email",
            "phone",
            "language",
            "name",
            "registration_number",
            "address",
            "is_representative",
            "created_at",
            "updated_at",
            "archived_at",
        )
    }
    identity["uuid"] = str(profile.uuid)
    identity["company"] = profile.company.display_name if profile.company else None
    values = [
        {
            "field": value.field.label,
            "type": value.field.type,
            "value": value.value,
            "shown_as": fieldtypes.display(value.field, value.value),
            "document": str(value.document.uuid) if value.document else None,
            "expires_on": _plain(value.expires_on),
            "updated_at": _plain(value.updated_at),
        }
        # In the profile's order, as the profile page shows them: without an order, PostgreSQL
        # returns the rows as they happen to lie, and one export would differ from the next.
        for value in FieldValue.objects.filter(profile=profile)
        .select_related("field", "document")
        .order_by("field__position", "field_id")
    ]
    history = [
        {
            "field": row.field.label,
            "old_value": row.old_value,
            "new_value": row.new_value,
            "kind": row.kind,
            "source": row.source,
            "by": row.user.get_username() if row.user else None,
            "changed_at": _plain(row.changed_at),
        }
        for row in FieldValueHistory.objects.filter(profile=profile)
        .select_related("field", "user")
        .order_by("changed_at", "id")
    ]
    documents = rows(
        Document.objects.filter(profile=profile).order_by("uploaded_at", "id"),
        ["uuid", "name", "content_type", "size", "uploaded_at"],
    )
    for document in documents:
        document["uuid"] = str(document["uuid"])
    return {"profile": identity, "values": values, "history": history, "documents": documents}


def files(profile: Profile) -> list[tuple[str, str]]:
    return [
        (f"documents/{document.uuid}-{document.name}", document.file.name)
        for document in Document.objects.filter(profile=profile).order_by("uploaded_at", "id")
        if document.file.name
    ]


def erase(profile: Profile) -> None:
    # Values and history point at documents with PROTECT: they go first.
    FieldValueHistory.objects.filter(profile=profile).delete()
    FieldValue.objects.filter(profile=profile).delete()
    Document.objects.filter(profile=profile).delete()


# Export and erasure, across every app: the machinery of profiles.actions' export_profile and
# erase_profile, which record the audit entries.


def export_zip(profile: Profile) -> tuple[tempfile.SpooledTemporaryFile[bytes], int]:
    """A zip of `index.json` (every app's records) and every stored file, ready to send;
    and the number of files it lists."""
    index: dict[str, Any] = {
        "exported_at": timezone.now().isoformat(),
        "organization": profile.organization.name,
        "records": {},
        "files": [],
    }
    archive = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for config, hook in _hooks("privacy_records"):
            index["records"][config.label] = hook(profile)
        for _config, hook in _hooks("privacy_files"):
            for path, key in hook(profile):
                safe = path.replace("\\", "/").lstrip("/").replace("../", "")
                try:
                    with default_storage.open(key, "rb") as source, zipped.open(safe, "w") as out:
                        while chunk := source.read(1024 * 1024):
                            out.write(chunk)
                    index["files"].append({"path": safe})
                except OSError:
                    index["files"].append({"path": safe, "missing": True})
        zipped.writestr("index.json", json.dumps(index, ensure_ascii=False, indent=2, default=str))
    archive.seek(0)
    return archive, len(index["files"])


class StorageUnreachable(Exception):
    """Files could not be deleted: nothing was erased."""


def delete_files(profile: Profile) -> int:
    """Deletes the person's stored files, every app's; returns how many. Raises
    StorageUnreachable, having erased nothing else, when storage fails."""
    keys = [key for _config, hook in _hooks("privacy_files") for _path, key in hook(profile)]
    try:
        for key in with_previews(keys):
            default_storage.delete(key)
    except Exception as error:
        raise StorageUnreachable(str(error)) from error
    return len(keys)


def delete_rows(profile: Profile) -> None:
    """Deletes every row about the person, every app's; in the caller's transaction."""
    # Right to left: dossiers before profiles, so that nothing is left pointing back.
    for _config, hook in reversed(list(_hooks("privacy_erase"))):
        hook(profile)
    Profile.objects.filter(pk=profile.pk).delete()
