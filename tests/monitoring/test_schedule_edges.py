"""Schedule edges: a time zone changed under the groups, and dates near the calendar's end."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django_scopes import scopes_disabled

from monitoring import schedule
from monitoring.models import GroupDue, UpdateGroup
from organizations.models import Organization
from tests import factories
from tests.monitoring.test_groups import _post

pytestmark = pytest.mark.django_db


def test_a_new_time_zone_moves_the_groups_next_run_in_the_same_save(owner_client, org):
    group = factories.group(org, start_date=dt.date(2030, 3, 1))
    with scopes_disabled():
        GroupDue.objects.filter(group=group).update(next_index=0)
    response = owner_client.post(
        f"/o/{org.slug}/settings/",
        {
            "name": org.name,
            "time_zone": "Pacific/Auckland",
            "default_language": "fr",
            "date_style": "dmy",
        },
    )
    assert response.status_code == 302
    with scopes_disabled():
        group.refresh_from_db()
    assert Organization.objects.get(pk=org.pk).time_zone == "Pacific/Auckland"
    # 08:00 on 1 March 2030 in Auckland (UTC+13) is 19:00 UTC the day before.
    assert group.next_run_at == dt.datetime(2030, 2, 28, 19, tzinfo=dt.UTC)
    local = group.next_run_at.astimezone(zoneinfo.ZoneInfo("Pacific/Auckland"))
    assert (local.date(), local.hour) == (dt.date(2030, 3, 1), 8)


def test_a_start_past_the_next_100_years_is_a_form_error_not_a_500(owner_client, org):
    field = factories.field(org, "text")
    response = _post(
        owner_client, org, fields=[field.pk], start_date="9999-01-01", frequency="1-years"
    )
    assert response.status_code == 200
    assert "within the next 100 years" in response.context["form"].errors["start_date"][0]
    with scopes_disabled():
        assert not UpdateGroup.objects.exists()


def test_a_group_saved_before_the_bound_still_shows_its_page(owner_client, org):
    with scopes_disabled():
        group = UpdateGroup.objects.create(
            organization=org,
            title="Far",
            applies_to="contact",
            start_date=dt.date(9999, 1, 1),
            interval_count=1,
            interval_unit="years",
            next_run_at=dt.datetime(9999, 1, 1, 7, tzinfo=dt.UTC),
        )
    response = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/")
    assert response.status_code == 200
    assert response.context["group"].upcoming() == [dt.date(9999, 1, 1)]


@pytest.mark.parametrize(
    ("start", "count", "unit", "holds"),
    [
        (dt.date(2026, 1, 1), 1000, "years", True),
        (dt.date(2026, 1, 1), 1, "days", True),
        (dt.date(2125, 12, 31), 1000, "years", True),
        (dt.date(2200, 1, 1), 1, "years", False),
        (dt.date(9999, 1, 1), 1, "years", False),
        (dt.date(1, 1, 1), 1, "days", True),
    ],
)
def test_the_calendar_bound(start, count, unit, holds):
    assert schedule.within_calendar(start, count, unit, dt.date(2026, 1, 1)) is holds


def test_the_live_preview_of_a_start_near_the_calendars_end_is_no_500(owner_client, org):
    response = owner_client.get(
        f"/o/{org.slug}/settings/fields/monitoring/new/preview/",
        {"applies_to": "contact", "start_date": "9999-12-31", "frequency": "1-years"},
    )
    assert response.status_code == 200
