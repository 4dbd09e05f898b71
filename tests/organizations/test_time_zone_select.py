"""The settings page's time-zone select: rendered once per process, the same HTML as Django's."""

from __future__ import annotations

from django import forms
from django.test import SimpleTestCase

from organizations.forms import OrganizationForm, TimeZoneSelect
from organizations.models import Organization


def test_it_renders_what_djangos_select_renders():
    field = OrganizationForm.base_fields["time_zone"]
    assert isinstance(field.widget, TimeZoneSelect)
    ours = field.widget.render("time_zone", "Pacific/Auckland", {"id": "id_time_zone"})
    theirs = forms.Select(choices=field.choices).render(
        "time_zone", "Pacific/Auckland", {"id": "id_time_zone"}
    )
    SimpleTestCase().assertHTMLEqual(ours, theirs)
    assert ours.count(" selected") == 1
    assert '<option value="Pacific/Auckland" selected>' in ours
    assert ours.count("<option") > 400


def test_the_organisations_zone_is_the_one_selected_and_none_is_without_a_value():
    form = OrganizationForm(instance=Organization(name="A", slug="a", time_zone="Asia/Tokyo"))
    html = str(form["time_zone"])
    assert '<option value="Asia/Tokyo" selected>' in html and html.count(" selected") == 1
    assert " selected" not in TimeZoneSelect(choices=[("UTC", "UTC")]).render("tz", None)


def test_the_settings_page_shows_the_zone_and_refuses_an_unknown_one(owner_client, org):
    org.time_zone = "America/Sao_Paulo"
    org.save()
    page = owner_client.get(f"/o/{org.slug}/settings/")
    assert '<option value="America/Sao_Paulo" selected>' in page.content.decode()
    response = owner_client.post(
        f"/o/{org.slug}/settings/",
        {
            "name": org.name,
            "time_zone": "Mars/Olympus",
            "default_language": org.default_language,
            "date_style": org.date_style,
        },
    )
    assert response.status_code == 200
    assert "time_zone" in response.context["form"].errors
    org.refresh_from_db()
    assert org.time_zone == "America/Sao_Paulo"
