"""JPEG copies of the documents a browser cannot show (HEIC photos from phones), for review.

The document is kept as it was sent; its copy is stored beside it under a key derived from
the document's own (profiles.storage.preview_key) and deleted with it.
"""

from __future__ import annotations

import io
from typing import IO

import pillow_heif
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models.fields.files import FieldFile
from django.http import Http404
from PIL import Image, ImageOps

from profiles.storage import open_for_download, open_stored, preview_key

# The types shown through a copy, with the format Pillow reads them in.
CONVERTED = {"image/heic": "HEIF"}
# Wide enough to read a passport's small print on a review screen; 1 to 2 MB at most.
PREVIEW_SIDE = 2400

pillow_heif.register_heif_opener()


def jpeg_copy(image: Image.Image) -> bytes:
    """A decoded image as a JPEG no wider or taller than PREVIEW_SIDE, upright. Shrinks
    `image` in place."""
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    upright = ImageOps.exif_transpose(image).convert("RGB")
    out = io.BytesIO()
    upright.save(out, "JPEG", quality=85)
    return out.getvalue()


def jpeg_preview(source: IO[bytes], content_type: str) -> bytes:
    source.seek(0)
    with Image.open(source, formats=[CONVERTED[content_type]]) as image:
        return jpeg_copy(image)


def store_preview(key: str, upload: IO[bytes], content_type: str) -> None:
    """Stores the copy of the upload just stored under `key`, if its type needs one: the one
    the check made while decoding it (profiles.uploads), or one made now."""
    preview = preview_key(key)
    if preview is None or content_type not in CONVERTED:
        return
    copy = getattr(upload, "preview_jpeg", None) or jpeg_preview(upload, content_type)
    default_storage.save(preview, ContentFile(copy))


def open_preview(file: FieldFile, content_type: str) -> IO[bytes]:
    """The stored copy of a file; made anew, and not stored, for a file stored without one
    (before copies were made), so that no request ever writes a file nothing records."""
    preview = preview_key(file.name or "")
    if preview is not None:
        try:
            return open_stored(preview)
        except Http404:
            pass
    original = open_for_download(file)
    try:
        return ContentFile(jpeg_preview(original, content_type))
    except Exception as error:  # stored before uploads were checked: nothing to show
        raise Http404 from error
    finally:
        original.close()
