from __future__ import annotations

import datetime as dt

import pytest
from django import forms
from django.utils import timezone, translation
from django.utils.html import escape
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers.models import Dossier
from monitoring.expiry import open_dossiers_for_expired_values
from organizations.models import AuditEntry
from profiles.models import FieldValue
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _filled(org, field, profile, value="x"):
    with scopes_disabled():
        apply_values(profile, [NewValue(field, value)], source="staff")


def _url(org, profile, field):
    return f"/o/{org.slug}/profiles/{profile.uuid}/fields/{field.uuid}/monitoring/"


def test_the_popup_of_a_monitored_field_shows_next_date_and_frequency(member_client, org):
    field = factories.field(org, "text", label="Address")
    group = factories.group(
        org, [field], start_date=dt.date(2024, 1, 31), interval_count=3, interval_unit="months"
    )
    profile = factories.contact(org)
    _filled(org, field, profile)
    response = member_client.get(_url(org, profile, field), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.text  # a dialog's content, loaded in place
    assert "Every 3 months" in response.text
    assert group.next_date.strftime("%Y") in response.text


def test_the_popup_of_an_unmonitored_field_says_so(member_client, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    _filled(org, field, profile)
    response = member_client.get(_url(org, profile, field), HTTP_HX_REQUEST="true")
    assert response.text.count("Not monitored") == 2


def test_an_empty_field_has_no_popup_and_refuses_an_expiry_date(member_client, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    page = member_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/")
    assert _url(org, profile, field) not in page.text
    response = member_client.post(_url(org, profile, field), {"expires_on": "2030-01-01"})
    assert response.status_code == 400
    assert "This field is empty" in response.text
    with scopes_disabled():
        assert not FieldValue.objects.exists()


def test_the_expiry_date_is_set_changed_and_cleared(member_client, org):
    field = factories.field(org, "document")
    profile = factories.contact(org)
    _filled(org, field, profile, value="doc")
    url = _url(org, profile, field)
    assert url in member_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/").text
    response = member_client.post(
        url, {"expires_on": "2030-01-01", "action": "save"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204 and response["HX-Redirect"]
    with scopes_disabled():
        assert FieldValue.objects.get().expires_on == dt.date(2030, 1, 1)
    member_client.post(url, {"expires_on": "2031-02-03", "action": "save"})
    with scopes_disabled():
        assert FieldValue.objects.get().expires_on == dt.date(2031, 2, 3)
    member_client.post(url, {"action": "clear"})
    with scopes_disabled():
        assert FieldValue.objects.get().expires_on is None


def test_an_impossible_date_gets_a_message_on_the_field(member_client, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    _filled(org, field, profile)
    response = member_client.post(
        _url(org, profile, field),
        {"expires_on": "2030-02-30", "action": "save"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert response.context["form"].errors["expires_on"]


def test_the_popup_is_404_to_another_organisation(outsider_client, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    _filled(org, field, profile)
    assert outsider_client.get(_url(org, profile, field)).status_code == 404


def test_expired_values_are_asked_for_once(org):
    field = factories.field(org, "text")
    fresh = factories.field(org, "text")
    profile = factories.contact(org)
    _filled(org, field, profile)
    _filled(org, fresh, profile)
    with scopes_disabled():
        FieldValue.objects.filter(field=field).update(
            expires_on=timezone.localdate() - dt.timedelta(days=2)
        )
        FieldValue.objects.filter(field=fresh).update(
            expires_on=timezone.localdate() + dt.timedelta(days=30)
        )
    assert open_dossiers_for_expired_values() == 1
    assert open_dossiers_for_expired_values() == 0  # an open dossier already asks for it
    with scopes_disabled():
        dossier = Dossier.objects.get()
        assert dossier.kind == "update"
        assert [i.field_id for i in dossier.items.all()] == [field.pk]


def _with_expiry(org, expires_on=dt.date(2034, 3, 1)):
    field = factories.field(org, "document", label="Passport")
    profile = factories.contact(org)
    _filled(org, field, profile, value="doc")
    with scopes_disabled():
        FieldValue.objects.filter(field=field).update(expires_on=expires_on)
    return field, profile


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("htmx", [True, False])
def test_save_with_an_impossible_date_keeps_the_expiry_and_says_so_on_the_field(
    member_client, org, language, htmx
):
    # 31/02/2035 typed over 01/03/2034: the browser sends the date input empty.
    field, profile = _with_expiry(org)
    member_client.cookies["django_language"] = language
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = member_client.post(
        _url(org, profile, field), {"expires_on": "", "action": "save"}, **extra
    )
    assert response.status_code == (422 if htmx else 200)
    assert response.context["form"].errors["expires_on"]
    assert "Clear the expiry date" in response.text or "Vider la date" in response.text
    with scopes_disabled():
        assert FieldValue.objects.get().expires_on == dt.date(2034, 3, 1)
        assert not AuditEntry.objects.filter(action__startswith="monitoring.").exists()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_only_the_clear_button_clears_the_expiry_and_it_is_audited(member_client, org, language):
    field, profile = _with_expiry(org)
    member_client.cookies["django_language"] = language
    response = member_client.post(_url(org, profile, field), {"expires_on": "", "action": "clear"})
    assert response.status_code == 302
    with scopes_disabled():
        assert FieldValue.objects.get().expires_on is None
        actions = [e.action for e in AuditEntry.objects.filter(action__startswith="monitoring.")]
    assert actions == ["monitoring.expiry.cleared"]


@pytest.mark.parametrize("typed", ["9999-12-31", "0001-01-01", "1899-12-31", "2201-01-01"])
def test_an_expiry_date_out_of_range_is_refused_by_naming_the_range(member_client, org, typed):
    field, profile = _with_expiry(org)
    response = member_client.post(
        _url(org, profile, field), {"expires_on": typed, "action": "save"}
    )
    assert response.status_code == 200
    [message] = response.context["form"].errors["expires_on"]
    assert "1900" in message and "2200" in message
    with scopes_disabled():
        assert FieldValue.objects.get().expires_on == dt.date(2034, 3, 1)


TYPED_DATES = [
    "",
    " ",
    "2025-02-31",
    "2027-02-29",
    "24:00",
    "31/02/2035",
    "01/03/2034",
    "0001-01-01",
    "1899-12-31",
    "2201-01-01",
    "9999-12-31",
    "x" * 5000,
    "a\x00b",
    "<script>alert(1)</script>",
    "\u202e2035-01-01",
    "2030-06-15",
    "2034-03-01",
    "1900-01-01",
    "2200-12-31",
]


@pytest.mark.parametrize("language", ["fr", "en"])
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    typed=st.one_of(st.none(), st.sampled_from(TYPED_DATES), st.text(max_size=20)),
    action=st.sampled_from([None, "save", "clear", "other"]),
    htmx=st.booleans(),
)
def test_the_popup_changes_an_expiry_only_to_a_valid_date_or_by_its_clear_button(
    member_client, org, language, typed, action, htmx
):
    field, profile = _with_expiry(org)
    member_client.cookies["django_language"] = language
    post = {"csrfmiddlewaretoken": "token"}
    if typed is not None:
        post["expires_on"] = typed
    if action is not None:
        post["action"] = action
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    with scopes_disabled():
        entries_before = AuditEntry.objects.filter(action__startswith="monitoring.").count()

    response = member_client.post(_url(org, profile, field), post, **extra)

    with scopes_disabled():
        expiry = FieldValue.objects.get(profile=profile).expires_on
        entries = (
            AuditEntry.objects.filter(action__startswith="monitoring.").count() - entries_before
        )
    if action == "clear":
        assert expiry is None and entries == 1
    elif response.status_code in {200, 422} and "form" in response.context:
        assert list(response.context["form"].errors) == ["expires_on"]
        assert expiry == dt.date(2034, 3, 1) and entries == 0
        if typed and typed.strip() and typed.isprintable():
            assert escape(typed) in response.text
    else:
        assert response.status_code in {204, 302}
        assert expiry is not None
        assert 1900 <= expiry.year <= 2200
        with translation.override(language):
            assert expiry == forms.DateField().clean(typed)  # what was typed, as the page reads it
        assert entries == (0 if expiry == dt.date(2034, 3, 1) else 1)
