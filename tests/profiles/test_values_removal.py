"""The staff values form: an emptied or impossible input is never a removal (issue 22)."""

from __future__ import annotations

import lxml.html
import pytest
from django_scopes import scopes_disabled

from profiles.models import FieldValue, FieldValueHistory, Source
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _url(org, profile):
    return f"/o/{org.slug}/profiles/{profile.uuid}/values/"


def _filled(org, type_, value, **extra):
    field = factories.field(org, type_, label="Date of birth", **extra)
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(field, value)], source=Source.STAFF)
    return field, profile


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_impossible_date_typed_over_a_date_of_birth_keeps_it(member_client, org, language):
    # 31/02/1985 typed: the browser sends the date input empty.
    field, profile = _filled(org, "date", "1985-03-01")
    member_client.cookies["django_language"] = language
    response = member_client.post(_url(org, profile), {f"f_{field.uuid.hex}": ""})
    assert response.status_code == 200
    [message] = response.context["form"].errors[f"f_{field.uuid.hex}"]
    assert {"fr": "Supprimer cette valeur", "en": "Remove this value"}[language] in message
    with scopes_disabled():
        assert FieldValue.objects.get().value == "1985-03-01"
        assert FieldValueHistory.objects.count() == 1


@pytest.mark.parametrize(
    ("type_", "value", "extra"),
    [
        ("text", "Old employer", {}),
        ("number", "12", {}),
        ("choice", "Red", {"choices": ["Red", "Blue"]}),
        ("boolean", False, {}),
        ("email", "a@example.com", {}),
    ],
)
def test_an_emptied_input_is_an_error_not_a_removal(member_client, org, type_, value, extra):
    field, profile = _filled(org, type_, value, **extra)
    response = member_client.post(_url(org, profile), {f"f_{field.uuid.hex}": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors[f"f_{field.uuid.hex}"]
    with scopes_disabled():
        assert FieldValue.objects.get().value == value


def test_a_field_without_a_value_left_empty_stays_empty_and_the_rest_is_saved(member_client, org):
    empty = factories.field(org, "date")
    text = factories.field(org, "text")
    profile = factories.contact(org)
    response = member_client.post(
        _url(org, profile), {f"f_{empty.uuid.hex}": "", f"f_{text.uuid.hex}": "Saved"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert [v.field_id for v in FieldValue.objects.all()] == [text.pk]


@pytest.mark.parametrize("language", ["fr", "en"])
def test_remove_this_value_removes_it_and_the_history_says_who(
    member_client, member, org, language
):
    field, profile = _filled(org, "date", "1985-03-01")
    member_client.cookies["django_language"] = language
    page = member_client.get(_url(org, profile))
    form = lxml.html.fromstring(page.content).xpath("//form[@data-confirm-removal]")[0]
    box = form.xpath(f".//input[@name='r_{field.uuid.hex}']")[0]
    assert box.get("type") == "checkbox" and box.get("checked") is None
    assert box.get("data-removal") == "Date of birth"  # named in the page's confirmation
    response = member_client.post(
        _url(org, profile), {f"f_{field.uuid.hex}": "", f"r_{field.uuid.hex}": "on"}
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert not FieldValue.objects.exists()
        row = FieldValueHistory.objects.latest("id")
    assert (row.old_value, row.new_value, row.source, row.user) == (
        "1985-03-01",
        None,
        Source.STAFF,
        member,
    )
    history = member_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/history/")
    badge = lxml.html.fromstring(history.content).xpath("//table//span[contains(@class,'badge')]")
    assert [b.text_content() for b in badge] == [{"en": "Removed", "fr": "Supprimée"}[language]]


def test_a_required_field_can_be_changed_but_offers_no_removal(member_client, org):
    field, profile = _filled(org, "text", "Kept", required=True)
    page = member_client.get(_url(org, profile)).text
    assert f"r_{field.uuid.hex}" not in page
    member_client.post(_url(org, profile), {f"f_{field.uuid.hex}": "", f"r_{field.uuid.hex}": "on"})
    with scopes_disabled():
        assert FieldValue.objects.get().value == "Kept"


def test_an_empty_field_offers_no_removal(member_client, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    assert f"r_{field.uuid.hex}" not in member_client.get(_url(org, profile)).text


@pytest.mark.parametrize(
    ("language", "message"),
    [("fr", "Cette date n\u2019existe pas"), ("en", "This date does not exist")],
)
def test_date_inputs_carry_the_message_of_the_page_guard_in_its_language(
    member_client, org, language, message
):
    field, profile = _filled(org, "date", "1985-03-01")
    member_client.cookies["django_language"] = language
    tree = lxml.html.fromstring(member_client.get(_url(org, profile)).content)
    [date_input] = tree.xpath(f"//input[@name='f_{field.uuid.hex}']")
    assert date_input.get("type") == "date"
    assert date_input.get("data-bad-input").startswith(message)
