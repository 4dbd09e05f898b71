"""A stored file as an HTTP response: the one way the back office, the API and the portal
hand a document out (never by its storage URL)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404

from profiles import previews
from profiles.models import Document
from profiles.storage import open_for_download
from profiles.uploads import name_for_type

# Types shown in the review page, checked by content on upload (profiles.uploads): those a
# browser shows itself, safely, and HEIC through its JPEG copy (profiles.previews).
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/webp", *previews.CONVERTED}


def serve_document(document: Document, *, inline: bool = False) -> FileResponse:
    return serve_file(document.file, document.name, document.content_type, inline=inline)


def serve_file(file: Any, name: str, content_type: str, *, inline: bool = False) -> FileResponse:
    """A stored file as a download, or shown in the page for review where it can be."""
    inline = inline and content_type in INLINE_TYPES
    try:
        if inline and content_type in previews.CONVERTED:
            handle = previews.open_preview(file, content_type)
            content_type = "image/jpeg"
        else:
            handle = open_for_download(file)
    except ValidationError:
        raise Http404 from None
    response = FileResponse(
        handle,
        as_attachment=not inline,
        # Rows stored before names followed the sniffed type are corrected on the way out.
        filename=name_for_type(name, content_type),
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    if inline:
        # Framed by our own review page only (the site's default is to refuse all framing).
        response["X-Frame-Options"] = "SAMEORIGIN"
        response._csp_replace = {"frame-ancestors": ["'self'"]}  # type: ignore[attr-defined]
    return response
