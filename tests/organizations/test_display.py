"""One date style per organisation, in pages, pop-ups and e-mails; numbers grouped."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import formats, translation
from django_scopes import scopes_disabled

from organizations.display import day, moment, number, style_of
from organizations.models import Organization
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def test_each_style_formats_dates_and_24_hour_times():
    when = dt.datetime(2027, 1, 31, 19, 22, tzinfo=dt.UTC)
    for style, expected in [("dmy", "31/01/2027"), ("iso", "2027-01-31"), ("mdy", "01/31/2027")]:
        with style_of(Organization(date_style=style)):
            assert day(when.date()) == expected
            assert moment(when) == f"{expected} 19:22"


def test_numbers_take_the_languages_separators():
    with translation.override("fr"):
        assert number(1234567) in {"1\u00a0234\u00a0567", "1 234 567", "1\u202f234\u202f567"}
    with translation.override("en"):
        assert number(1234567) == "1,234,567"


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("value", [-1000, -999, -1, 0, 7, 999, 1000, 1001])
def test_small_numbers_read_as_the_full_formatting_writes_them(language, value):
    with translation.override(language):
        assert number(value) == formats.number_format(value, use_l10n=True, force_grouping=True)


def test_the_profile_page_uses_the_organisations_style(member_client, org):
    field = factories.field(org, "date", label="Birth date")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(field, "1990-05-17")], source="staff")
    url = f"/o/{org.slug}/profiles/{profile.uuid}/"
    assert "17/05/1990" in member_client.get(url).text
    with scopes_disabled():
        Organization.objects.filter(pk=org.pk).update(date_style="iso")
    page = member_client.get(url).text
    assert "1990-05-17" in page and "17/05/1990" not in page
