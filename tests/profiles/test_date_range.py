"""Observation 7 of issue 22: a date field says what range it accepts (1900 to 2200)."""

from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from profiles.models import FieldValue, FieldValueHistory
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _url(org, profile):
    return f"/o/{org.slug}/profiles/{profile.uuid}/values/"


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("typed", ["9999-01-01", "0001-01-01", "1899-12-31", "2201-01-01"])
def test_a_date_out_of_range_is_refused_on_its_field(owner_client, org, language, typed):
    field = factories.field(org, "date", label="Date of birth")
    profile = factories.contact(org)
    owner_client.cookies["django_language"] = language
    response = owner_client.post(_url(org, profile), {f"f_{field.uuid.hex}": typed})
    assert response.status_code == 200
    [message] = response.context["form"].errors[f"f_{field.uuid.hex}"]
    assert "1900" in message and "2200" in message
    assert f'value="{typed}"' in response.text  # what was typed stays in the input
    with scopes_disabled():
        assert not FieldValue.objects.exists()
        assert not FieldValueHistory.objects.exists()


@pytest.mark.parametrize("typed", ["1900-01-01", "2200-12-31"])
def test_the_bounds_themselves_are_accepted(owner_client, org, typed):
    field = factories.field(org, "date")
    profile = factories.contact(org)
    response = owner_client.post(_url(org, profile), {f"f_{field.uuid.hex}": typed})
    assert response.status_code == 302
    with scopes_disabled():
        assert FieldValue.objects.get().value == typed


def test_the_date_input_carries_the_range(owner_client, org):
    factories.field(org, "date")
    profile = factories.contact(org)
    page = owner_client.get(_url(org, profile)).text
    assert 'min="1900-01-01"' in page and 'max="2200-12-31"' in page


def test_a_date_on_file_out_of_range_can_be_kept_as_it_is(owner_client, org):
    # Stored before the range existed: saving the form untouched must not refuse it.
    date = factories.field(org, "date")
    text = factories.field(org, "text")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(date, "1850-06-01")], source="staff")
    response = owner_client.post(
        _url(org, profile), {f"f_{date.uuid.hex}": "1850-06-01", f"f_{text.uuid.hex}": "New"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert FieldValue.objects.get(field=date).value == "1850-06-01"
        assert FieldValue.objects.get(field=text).value == "New"
