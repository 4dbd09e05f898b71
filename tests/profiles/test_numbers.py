"""Numbers are typed and shown the page language's way and stored with the decimals they
were typed with: 42 500,50 is an amount and stays one; 42500.5 and 42500.50 are one value."""

from __future__ import annotations

import lxml.html
import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from django_scopes import scope

from organizations.actors import Actor
from profiles import fieldtypes
from profiles.actions import set_values
from profiles.models import FieldValueHistory
from tests import factories

pytestmark = pytest.mark.django_db

TYPED = [
    ("fr", "42 500,50", "42500.50"),
    ("fr", "42\u202f500,50", "42500.50"),  # the narrow space a French keyboard layout types
    ("fr", "-1 234 567,8", "-1234567.8"),
    ("fr", "0,000125", "0.000125"),
    ("en", "42,500.50", "42500.50"),
    ("en", "42,500.5", "42500.5"),
    ("fr", "-0,00", "0.00"),
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


@pytest.mark.parametrize(("language", "shown"), [("fr", "42\u00a0500,50"), ("en", "42,500.50")])
def test_an_amount_keeps_its_trailing_zero_wherever_it_is_shown(org, language, shown):
    field = factories.field(org, "number")
    with translation.override(language):
        value = fieldtypes.to_canonical(field, fieldtypes.form_field(field).clean(shown))
        assert value == "42500.50"
        assert fieldtypes.display(field, value).replace("\u202f", "\u00a0") == shown
        rendered = fieldtypes.form_field(field).widget.format_value(
            fieldtypes.to_initial(field, value)
        )
        assert rendered == ("42500,50" if language == "fr" else "42500.50")


def test_only_the_spelling_differing_is_not_a_change(org):
    field = factories.field(org, "number")
    profile = factories.contact(org)
    system = Actor.system("test")
    with scope(organization=org):
        set_values(profile, actor=system, values=[(field, "42500.5")])
        assert set_values(profile, actor=system, values=[(field, "42500.50")]) == []
        assert FieldValueHistory.objects.filter(profile=profile, field=field).count() == 1
        changed = set_values(profile, actor=system, values=[(field, "42500.51")])
    assert [(row.old_value, row.new_value) for row in changed] == [("42500.5", "42500.51")]
    assert fieldtypes.same(field, "42500.5", "42500.50")
    assert not fieldtypes.same(field, "42500.5", "42500.51")
    assert not fieldtypes.same(field, "42500.5", None)


@pytest.mark.parametrize(("language", "shown"), [("fr", "42500,50"), ("en", "42500.50")])
def test_the_values_form_shows_the_amount_as_typed_and_posting_it_back_changes_nothing(
    org, owner, language, shown
):
    from django.conf import settings
    from django.test import Client

    field = factories.field(org, "number", label="Income")
    profile = factories.contact(org)
    with scope(organization=org):
        set_values(profile, actor=Actor.system("test"), values=[(field, "42500.50")])
    client = Client()
    client.force_login(owner)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    url = f"/o/{org.slug}/profiles/{profile.uuid}/values/"
    page = client.get(url)
    [form] = [
        f
        for f in lxml.html.fromstring(page.content).forms
        if f.method.upper() == "POST" and f.action in (None, "", url)
    ]
    values = dict(form.form_values())
    assert shown in values.values()
    assert client.post(url, values).status_code == 302
    with scope(organization=org):
        assert FieldValueHistory.objects.filter(profile=profile, field=field).count() == 1
    detail = client.get(f"/o/{org.slug}/profiles/{profile.uuid}/").content.decode()
    assert (
        ("42\u202f500,50" in detail or "42\u00a0500,50" in detail)
        if language == "fr"
        else ("42,500.50" in detail)
    )
