"""The staff values form posted from a page opened before a colleague's change.

The page carries what it showed (`s_<uuid>`): a field posted as shown is untouched, and a
field the member changed, or a value they remove, that changed on file since is refused on
the field with nothing written. Pages are posted as the browser sends them (lxml reads the
rendered form), then edited as a person would.
"""

from __future__ import annotations

import lxml.html
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.models import DataField, FieldValue, FieldValueHistory, Source
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _url(org, profile):
    return f"/o/{org.slug}/profiles/{profile.uuid}/values/"


def _posted(response) -> dict[str, str]:
    """What the browser sends for the values form of this page, untouched."""
    [form] = lxml.html.fromstring(response.content).xpath("//form[@enctype]")
    return {name: value for name, value in form.form_values() if name != "csrfmiddlewaretoken"}


def _values(profile) -> dict[str, object]:
    with scopes_disabled():
        return {
            fv.field.label: fv.value
            for fv in FieldValue.objects.filter(profile=profile).select_related("field")
        }


def _rows(profile) -> int:
    with scopes_disabled():
        return FieldValueHistory.objects.filter(profile=profile).count()


@pytest.fixture
def employer(org):
    return factories.field(org, "text", label="Employer")


@pytest.fixture
def city(org):
    return factories.field(org, "text", label="City")


@pytest.fixture
def profile(org, employer, city):
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(
            profile,
            [NewValue(employer, "Old employer"), NewValue(city, "Paris")],
            source=Source.STAFF,
        )
    return profile


def _colleague_sets(profile, field, value, owner):
    with scopes_disabled():
        apply_values(profile, [NewValue(field, value)], source=Source.STAFF, user=owner)


def test_a_stale_removal_is_refused_on_its_field_and_nothing_is_written(
    member_client, owner, org, profile, employer, city
):
    page = _posted(member_client.get(_url(org, profile)))
    _colleague_sets(profile, employer, "New employer", owner)
    rows = _rows(profile)
    page[f"r_{employer.uuid.hex}"] = "on"
    page[f"f_{city.uuid.hex}"] = "Lyon"

    response = member_client.post(_url(org, profile), page)

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [f"f_{employer.uuid.hex}"]
    assert (
        "Changed by someone else since you opened this page: it now reads “New employer”. "
        "Check it, then remove it again if you still mean to."
    ) in response.context["form"].errors[f"f_{employer.uuid.hex}"]
    assert _values(profile) == {"Employer": "New employer", "City": "Paris"}
    assert _rows(profile) == rows
    # The page now shows the value on file, unticked: removing it is a deliberate new act.
    again = _posted(response)
    assert again[f"f_{employer.uuid.hex}"] == "New employer"
    assert f"r_{employer.uuid.hex}" not in again
    assert again[f"f_{city.uuid.hex}"] == "Lyon"
    again[f"r_{employer.uuid.hex}"] = "on"
    assert member_client.post(_url(org, profile), again).status_code == 302
    assert _values(profile) == {"City": "Lyon"}


def test_a_stale_untouched_field_keeps_a_colleagues_newer_value(
    member_client, owner, member, org, profile, employer, city
):
    page = _posted(member_client.get(_url(org, profile)))
    _colleague_sets(profile, employer, "New employer", owner)
    page[f"f_{city.uuid.hex}"] = "Lyon"

    response = member_client.post(_url(org, profile), page)

    assert response.status_code == 302
    assert _values(profile) == {"Employer": "New employer", "City": "Lyon"}
    with scopes_disabled():
        [last] = FieldValueHistory.objects.filter(profile=profile, user=member)
    assert (last.field, last.old_value, last.new_value) == (city, "Paris", "Lyon")


def test_a_change_over_a_colleagues_newer_value_is_refused_and_nothing_of_the_form_written(
    member_client, owner, org, profile, employer, city
):
    page = _posted(member_client.get(_url(org, profile)))
    _colleague_sets(profile, employer, "New employer", owner)
    page[f"f_{employer.uuid.hex}"] = "Third employer"
    page[f"f_{city.uuid.hex}"] = "Lyon"

    response = member_client.post(_url(org, profile), page)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [f"f_{employer.uuid.hex}"]
    assert "it now reads “New employer”" in errors[f"f_{employer.uuid.hex}"][0]
    assert _values(profile) == {"Employer": "New employer", "City": "Paris"}
    # What was typed is kept; posted again, knowingly, it is saved.
    again = _posted(response)
    assert (again[f"f_{employer.uuid.hex}"], again[f"f_{city.uuid.hex}"]) == (
        "Third employer",
        "Lyon",
    )
    assert member_client.post(_url(org, profile), again).status_code == 302
    assert _values(profile) == {"Employer": "Third employer", "City": "Lyon"}


def test_the_refusal_is_in_french_too(member_client, owner, org, profile, employer):
    member_client.cookies["django_language"] = "fr"
    page = _posted(member_client.get(_url(org, profile)))
    _colleague_sets(profile, employer, "New employer", owner)
    page[f"r_{employer.uuid.hex}"] = "on"

    response = member_client.post(_url(org, profile), page)

    assert "Modifiée par quelqu" in response.text
    assert "elle indique désormais « New employer »" in response.text
    assert _values(profile)["Employer"] == "New employer"


def test_a_removal_posted_twice_stays_a_removal(member_client, org, profile, employer):
    page = _posted(member_client.get(_url(org, profile)))
    page[f"r_{employer.uuid.hex}"] = "on"

    first = member_client.post(_url(org, profile), page)
    second = member_client.post(_url(org, profile), page)

    assert (first.status_code, second.status_code) == (302, 302)
    assert _values(profile) == {"City": "Paris"}
    with scopes_disabled():
        history = FieldValueHistory.objects.filter(field=employer).order_by("id")
        assert [(r.old_value, r.new_value) for r in history] == [
            (None, "Old employer"),
            ("Old employer", None),
        ]


def test_a_value_a_colleague_removed_is_not_put_back_by_an_untouched_page(
    member_client, owner, org, profile, employer, city
):
    page = _posted(member_client.get(_url(org, profile)))
    with scopes_disabled():
        apply_values(profile, [NewValue(employer, None, remove=True)], source=Source.STAFF)

    assert member_client.post(_url(org, profile), page).status_code == 302
    assert _values(profile) == {"City": "Paris"}


def test_a_page_without_what_it_showed_is_compared_with_the_value_on_file(
    member_client, org, profile, employer, city
):
    # An old page, or a client that does not send `s_`: today's comparison.
    posted = {f"f_{employer.uuid.hex}": "Old employer", f"f_{city.uuid.hex}": "Lyon"}

    assert member_client.post(_url(org, profile), posted).status_code == 302
    assert _values(profile) == {"Employer": "Old employer", "City": "Lyon"}


@pytest.mark.parametrize("shown", ["", "garbage", "x" * 5000, "\x00"])
def test_a_forged_shown_value_is_refused_on_the_field_it_names(
    member_client, org, profile, employer, city, shown
):
    posted = {
        f"f_{city.uuid.hex}": "Paris",
        f"f_{employer.uuid.hex}": "Third employer",
        f"s_{employer.uuid.hex}": shown,
        f"r_{employer.uuid.hex}": "on",
    }

    response = member_client.post(_url(org, profile), posted)

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [f"f_{employer.uuid.hex}"]
    assert _values(profile)["Employer"] == "Old employer"


def test_a_document_replaced_by_a_colleague_is_not_replaced_from_a_stale_page(
    member_client, owner, org
):
    proof = factories.field(org, "document", label="Proof", accepted_types=["pdf"])
    profile = factories.contact(org)

    def upload(name):
        return SimpleUploadedFile(name, factories.PDF, "application/pdf")

    member_client.post(_url(org, profile), {f"f_{proof.uuid.hex}": upload("first.pdf")})
    page = _posted(member_client.get(_url(org, profile)))
    first = _values(profile)["Proof"]
    owner_client_page = _posted(member_client.get(_url(org, profile)))
    owner_client_page[f"f_{proof.uuid.hex}"] = upload("second.pdf")
    assert member_client.post(_url(org, profile), owner_client_page).status_code == 302
    second = _values(profile)["Proof"]
    assert second != first
    page[f"f_{proof.uuid.hex}"] = upload("third.pdf")

    response = member_client.post(_url(org, profile), page)

    assert response.status_code == 200
    assert "it now reads “second.pdf”" in response.context["form"].errors[f"f_{proof.uuid.hex}"][0]
    assert _values(profile)["Proof"] == second


def test_a_choice_taken_off_the_list_stays_as_it_is_and_other_fields_save(
    owner_client, member_client, org
):
    colour = factories.field(org, "choice", label="Colour", choices=["Red", "Blue"])
    city = factories.field(org, "text", label="City")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(colour, "Red")], source=Source.STAFF)
    edit = owner_client.post(
        f"/o/{org.slug}/settings/field/{colour.uuid}/",
        {
            "label": "Colour",
            "type": "choice",
            "help_text": "",
            "section": "",
            "max_size_mb": 10,
            "choices_text": "Blue\nGreen",
        },
    )
    assert edit.status_code == 302

    response = member_client.get(_url(org, profile))
    [select] = lxml.html.fromstring(response.content).xpath(
        f"//select[@name='f_{colour.uuid.hex}']"
    )
    [selected] = select.xpath("option[@selected]")
    assert (selected.get("value"), selected.text) == ("Red", "Red (no longer on the list)")
    page = _posted(response)
    page[f"f_{city.uuid.hex}"] = "Lyon"
    assert member_client.post(_url(org, profile), page).status_code == 302
    assert _values(profile) == {"Colour": "Red", "City": "Lyon"}

    # Once changed, the old choice is no longer offered.
    page = _posted(member_client.get(_url(org, profile)))
    page[f"f_{colour.uuid.hex}"] = "Green"
    assert member_client.post(_url(org, profile), page).status_code == 302
    page = _posted(member_client.get(_url(org, profile)))
    page[f"f_{colour.uuid.hex}"] = "Red"
    response = member_client.post(_url(org, profile), page)
    assert list(response.context["form"].errors) == [f"f_{colour.uuid.hex}"]
    assert _values(profile)["Colour"] == "Green"


COLLEAGUE = st.sampled_from(["unchanged", "New employer", "removed"])
MEMBER = st.one_of(
    st.sampled_from(["untouched", "remove", "", " ", "Old employer", "New employer"]),
    st.text(max_size=20),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(on_file=st.sampled_from(["Old employer", None]), colleague=COLLEAGUE, member_does=MEMBER)
def test_a_value_a_colleague_changed_since_the_page_opened_is_never_overwritten(
    member_client, member, owner, org, on_file, colleague, member_does
):
    with scopes_disabled():
        # One field whatever the number of examples: the form stays one field long.
        employer = DataField.objects.filter(organization=org).first()
    employer = employer or factories.field(org, "text", label="Employer")
    profile = factories.contact(org)
    if on_file is not None:
        _colleague_sets(profile, employer, on_file, owner)
    page = _posted(member_client.get(_url(org, profile)))
    if colleague == "removed":
        with scopes_disabled():
            apply_values(profile, [NewValue(employer, None, remove=True)], source=Source.STAFF)
    elif colleague != "unchanged":
        _colleague_sets(profile, employer, colleague, owner)
    with scopes_disabled():
        now = (
            FieldValue.objects.filter(profile=profile, field=employer)
            .values_list("value", flat=True)
            .first()
        )
    if member_does == "remove":
        page[f"r_{employer.uuid.hex}"] = "on"
    elif member_does != "untouched":
        page[f"f_{employer.uuid.hex}"] = member_does

    response = member_client.post(_url(org, profile), page)

    assert response.status_code in {200, 302}
    with scopes_disabled():
        after = (
            FieldValue.objects.filter(profile=profile, field=employer)
            .values_list("value", flat=True)
            .first()
        )
        by_member = FieldValueHistory.objects.filter(
            profile=profile, field=employer, user=member
        ).count()
    if now != on_file:
        assert (after, by_member) == (now, 0)
    if response.status_code == 200:
        assert list(response.context["form"].errors) == [f"f_{employer.uuid.hex}"]
        assert (after, by_member) == (now, 0)


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "Nothing was saved: choose “scan-2026.pdf” again before saving."),
        ("fr", "Rien n’a été enregistré : choisissez à nouveau « scan-2026.pdf »"),  # noqa: RUF001
    ],
)
def test_a_file_chosen_on_a_page_that_comes_back_is_named_to_be_chosen_again(
    member_client, org, profile, employer, language, said
):
    # The staff form keeps no draft: the page says which file to choose again.
    proof = factories.field(org, "document", label="Proof", accepted_types=["pdf"])
    member_client.cookies["django_language"] = language
    page = _posted(member_client.get(_url(org, profile)))
    page[f"f_{employer.uuid.hex}"] = "  "
    page[f"f_{proof.uuid.hex}"] = SimpleUploadedFile(
        "scan-2026.pdf", factories.PDF, "application/pdf"
    )

    response = member_client.post(_url(org, profile), page)

    assert response.status_code == 200
    assert list(response.context["form"].errors) == [f"f_{employer.uuid.hex}"]
    assert said in response.text
    assert "Proof" not in _values(profile)
