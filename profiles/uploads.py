"""Checks an uploaded document by its content, never by its name or the browser's word."""

from __future__ import annotations

import os
import unicodedata

import filetype
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from profiles.models import DOCUMENT_TYPES, DataField

SNIFF_BYTES = 8192


def clean_filename(name: str) -> str:
    """A name safe to show and to send back in Content-Disposition: no path, no control."""
    base = os.path.basename((name or "").replace("\\", "/"))
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")
    try:
        cleaned = get_valid_filename(base)
    except SuspiciousFileOperation:  # "", "." and ".." have no valid name
        cleaned = ""
    stem, ext = os.path.splitext(cleaned)
    return (stem[:120] + ext[:10]) or "document"


# The extension each accepted type is saved and downloaded under, and the spellings of it a
# client's name may keep. Everything else the client called the file is replaced, so that a
# PDF named "statement.cmd" reaches staff as "statement.pdf" and never runs.
_EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/webp": (".webp",),
    "image/heic": (".heic",),
}


def name_for_type(name: str, content_type: str) -> str:
    """The cleaned name with the extension of the type read from the content."""
    cleaned = clean_filename(name)
    stem, ext = os.path.splitext(cleaned)
    allowed = _EXTENSIONS.get(content_type)
    if allowed is None:
        # Not a type we accept: nothing the client wrote may choose how it opens.
        return (stem or "document") + ".bin"
    if ext.lower() in allowed:
        return stem + ext.lower()
    return (stem if ext else cleaned) + allowed[0]


def sniff_content_type(upload: UploadedFile) -> str | None:
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    kind = filetype.guess(head)
    return kind.mime if kind else None


def check_upload(field: DataField, upload: UploadedFile) -> str:
    """Returns the content type read from the file, or raises a message for the client."""
    if upload.size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    if upload.size > field.max_size_bytes:
        raise ValidationError(
            _("The file is too large (%(size)s); the maximum is %(max)s MB.")
            % {"size": filesizeformat(upload.size), "max": field.max_size_mb},
            code="too_large",
        )
    accepted = {DOCUMENT_TYPES[t][0]: t for t in field.accepted_types if t in DOCUMENT_TYPES}
    content_type = sniff_content_type(upload)
    if content_type not in accepted:
        names = ", ".join(str(DOCUMENT_TYPES[t][1]) for t in accepted.values())
        raise ValidationError(
            _("This file is not of an accepted type. Accepted: %(types)s.") % {"types": names},
            code="bad_type",
        )
    return content_type
