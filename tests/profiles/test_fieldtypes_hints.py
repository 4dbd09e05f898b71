"""A document field says what it takes before the upload, in the reader's language."""

from __future__ import annotations

import pytest
from django.utils import translation

from profiles import fieldtypes
from tests import factories


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "PDF, PNG image, up to 5 MB. A PDF must open without a password."),
        ("fr", "PDF, Image PNG, 5 Mo au plus. Un PDF doit s\u2019ouvrir sans mot de passe."),
    ],
)
def test_a_document_field_names_its_formats_and_size(org, language, expected):
    field = factories.field(org, "document", accepted_types=["pdf", "png"], max_size_mb=5)
    with translation.override(language):
        help_text = fieldtypes.form_field(field).help_text
    assert help_text.endswith(expected)


def test_without_pdf_no_password_hint(org):
    field = factories.field(org, "document", accepted_types=["jpeg"], max_size_mb=10)
    with translation.override("en"):
        assert fieldtypes.form_field(field).help_text == "JPEG image, up to 10 MB."
