"""Checks an uploaded document by its content, never by its name or the browser's word."""

from __future__ import annotations

import os
import unicodedata
import warnings

import filetype
from django.core.exceptions import SuspiciousFileOperation, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from PIL import Image
from pypdf import PdfReader

from profiles import previews
from profiles.models import DOCUMENT_TYPES, DataField

SNIFF_BYTES = 8192
# Phones take 12 to 48 megapixel photos; a bigger image is a scan far beyond what a review
# needs, or a decompression bomb. The check decodes up to this much (200 MB as RGBA).
MAX_PIXELS = 50_000_000
# Readers look for a PDF's closing %%EOF in its last kilobyte: a file cut short has none.
PDF_TAIL = 1024
# Pillow decodes each accepted image type under this format name, and no other: a file
# sniffed as PNG must be a PNG all the way through.
PILLOW_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
PILLOW_FORMATS.update(previews.CONVERTED)


def clean_filename(name: str | None) -> str:
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
    # A received upload always knows its size; the stubs allow None for a file being built.
    size = upload.size or 0
    if size == 0:
        raise ValidationError(_("The file is empty."), code="empty")
    if size > field.max_size_bytes:
        raise ValidationError(
            _("The file is too large (%(size)s); the maximum is %(max)s MB.")
            % {"size": filesizeformat(size), "max": field.max_size_mb},
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
    upload.seek(0)
    try:
        if content_type == "application/pdf":
            check_pdf(upload)
        else:
            check_image(
                upload, PILLOW_FORMATS[content_type], copy=content_type in previews.CONVERTED
            )
    finally:
        upload.seek(0)
    return content_type


def check_pdf(upload: UploadedFile) -> None:
    """A PDF opens and has a page. One that asks for a password to open is refused: its
    reviewers could not read it. Restrictions alone (printing, copying) do not count."""
    upload.seek(max((upload.size or 0) - PDF_TAIL, 0))
    if b"%%EOF" not in upload.read(PDF_TAIL):
        raise _unreadable_pdf()
    upload.seek(0)
    try:
        # Reads the cross-reference table and the page tree from the stream, not the pages'
        # content: a 50 MB upload is never held in memory.
        reader = PdfReader(upload)
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValidationError(
                _("This PDF is password-protected: send it without a password."),
                code="encrypted",
            )
        pages = len(reader.pages)
    except ValidationError:
        raise
    except Exception as error:  # pypdf raises a dozen kinds of error on a damaged file
        raise _unreadable_pdf() from error
    if pages == 0:
        raise ValidationError(_("This PDF has no pages."), code="no_pages")


def check_image(upload: UploadedFile, pillow_format: str, *, copy: bool = False) -> None:
    """An image decodes completely, within MAX_PIXELS. With `copy`, its JPEG copy for review
    is made from this decoding, the costly part, and kept on the upload for store_preview."""
    try:
        # Pillow warns of a likely bomb from 89 MP and refuses from 179 MP by itself: both
        # are refusals here, as is anything above our own, lower limit.
        with (
            warnings.catch_warnings(action="error", category=Image.DecompressionBombWarning),
            Image.open(upload, formats=[pillow_format]) as image,
        ):
            # Read from the header, before anything is decoded.
            if image.width * image.height > MAX_PIXELS:
                raise _too_many_pixels()
            image.verify()
        # verify() checks the chunks' checksums of a PNG but reads no JPEG data: only
        # decoding finds a file cut short.
        upload.seek(0)
        with Image.open(upload, formats=[pillow_format]) as image:
            if pillow_format == "JPEG":
                # Decoded at an eighth of its size: every byte is still read, for 1/64th
                # of the memory and a fraction of the time.
                image.draft(image.mode, (max(image.width // 8, 1), max(image.height // 8, 1)))
            image.load()
            if copy:
                upload.preview_jpeg = previews.jpeg_copy(image)  # type: ignore[attr-defined]
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise _too_many_pixels() from error
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError... on damage
        raise ValidationError(
            _("This image could not be read: the file is damaged or incomplete. Send it again."),
            code="unreadable",
        ) from error


def _unreadable_pdf() -> ValidationError:
    return ValidationError(
        _("This PDF could not be opened: the file is damaged or incomplete. Send it again."),
        code="unreadable",
    )


def _too_many_pixels() -> ValidationError:
    return ValidationError(
        _("This image is too large: at most %(max)d megapixels. Send a smaller copy.")
        % {"max": MAX_PIXELS // 1_000_000},
        code="too_many_pixels",
    )
