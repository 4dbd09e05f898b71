"""Numbers are typed and shown the page language's way and stored canonically."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from profiles import fieldtypes
from tests import factories

pytestmark = pytest.mark.django_db

TYPED = [
    ("fr", "42 500,50", "42500.5"),
    ("fr", "42\u202f500,50", "42500.5"),  # the narrow space a French keyboard layout types
    ("fr", "-1 234 567,8", "-1234567.8"),
    ("fr", "0,000125", "0.000125"),
    ("en", "42,500.50", "42500.5"),
    ("en", "1,234,567", "1234567"),
    ("en", "-3.5", "-3.5"),
]


@pytest.mark.parametrize(("language", "typed", "stored"), TYPED)
def test_a_number_is_read_as_its_language_writes_it(org, language, typed, stored):
    field = factories.field(org, "number")
    with translation.override(language):
        value = fieldtypes.form_field(field).clean(typed)
    assert fieldtypes.to_canonical(field, value) == stored


@pytest.mark.parametrize(("language", "typed"), [("en", "1,5"), ("en", "12,34"), ("fr", "1,2,3")])
def test_an_ambiguous_grouping_is_refused_not_guessed(org, language, typed):
    field = factories.field(org, "number")
    with translation.override(language), pytest.raises(ValidationError):
        fieldtypes.form_field(field).clean(typed)


@pytest.mark.parametrize(("language", "shown"), [("fr", "1234567,89"), ("en", "1234567.89")])
def test_a_number_is_shown_in_the_input_as_it_is_read_back(org, language, shown):
    field = factories.field(org, "number")
    form_field = fieldtypes.form_field(field)
    with translation.override(language):
        rendered = form_field.widget.format_value(fieldtypes.to_initial(field, "1234567.89"))
        assert rendered == shown
        assert str(form_field.clean(rendered)) == "1234567.89"
