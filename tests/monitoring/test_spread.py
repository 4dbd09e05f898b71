"""Spreading an occurrence over N working days: each profile on a stable day of the window,
every window inside its period (month end, 29 February, year end), one dossier per (group,
period, profile) whatever the passes do."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django_scopes import scope, scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers.models import Dossier
from monitoring import schedule, spread
from monitoring.actions import send_now
from monitoring.dispatch import dispatch_due, open_run
from monitoring.models import UpdateGroup, UpdateRun
from organizations.actors import Actor
from profiles.models import Profile
from tests import factories
from tests.schema_history import leaves, migrate

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("period", "days", "expected"),
    [
        # Month end on a Monday: the window runs into February.
        (dt.date(2028, 1, 31), 3, [dt.date(2028, 1, 31), dt.date(2028, 2, 1), dt.date(2028, 2, 2)]),
        # 29 February, a Tuesday.
        (dt.date(2028, 2, 29), 3, [dt.date(2028, 2, 29), dt.date(2028, 3, 1), dt.date(2028, 3, 2)]),
        # Year end on a Friday: the weekend is skipped, the window ends in the new year.
        (
            dt.date(2027, 12, 31),
            3,
            [dt.date(2027, 12, 31), dt.date(2028, 1, 3), dt.date(2028, 1, 4)],
        ),
        # An occurrence on a Sunday starts on the Monday.
        (dt.date(2027, 1, 31), 2, [dt.date(2027, 2, 1), dt.date(2027, 2, 2)]),
    ],
)
def test_a_window_is_the_first_working_days_from_the_occurrence(period, days, expected):
    assert spread.window(period, days) == expected


@pytest.mark.parametrize(
    ("count", "unit", "most"),
    [(1, "days", 1), (1, "weeks", 5), (1, "months", 20), (3, "months", 60), (1, "years", 250)],
)
def test_the_longest_window_ends_before_the_next_occurrence_from_any_start(count, unit, most):
    assert spread.longest(count, unit) == most
    # From every start of two years of a monthly, weekly… schedule, 29 February included.
    for k in range(0, 100):
        start = dt.date(2027, 1, 31)
        period = schedule.occurrence(start, count, unit, k)
        following = schedule.occurrence(start, count, unit, k + 1)
        days = spread.window(period, most)
        assert days[-1] < following, (period, most)
        # Unspread, requests go out on the date itself, whatever the day.
        assert most == 1 or all(day.weekday() < 5 for day in days)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(uuids=st.lists(st.uuids(), min_size=1, max_size=20), days=st.integers(1, 250))
def test_the_database_and_python_put_each_profile_on_the_same_day(org, uuids, days):
    with scopes_disabled():
        Profile.objects.filter(organization=org).delete()
        Profile.objects.bulk_create(
            Profile(organization=org, kind="contact", uuid=u) for u in set(uuids)
        )
        found = dict(
            Profile.objects.filter(organization=org)
            .annotate(day=spread.SpreadDay("uuid", days))
            .values_list("uuid", "day")
        )
    assert found == {u: spread.day_of(u, days) for u in set(uuids)}
    assert all(0 <= day < days for day in found.values())


def test_a_profiles_day_is_stable():
    profile = uuid.UUID("12345678-1234-4234-9234-1234deadbeef")
    assert spread.day_of(profile, 5) == 0xDEADBEEF % 5
    assert {spread.day_of(profile, 5) for _ in range(3)} == {0xDEADBEEF % 5}


def _spread_group(org, start, days, n=40):
    proof = factories.field(org, "text")
    with scopes_disabled():
        Profile.objects.bulk_create(
            Profile(organization=org, kind="contact", last_name=f"P{i}") for i in range(n)
        )
    with time_machine.travel(dt.datetime.combine(start, dt.time(0), PARIS), tick=False):
        group = factories.group(org, [proof], start_date=start, spread_days=days)
    return group


def _pass(moment):
    with time_machine.travel(moment, tick=False):
        for run_id in dispatch_due(fan_out=False):
            open_run(run_id)


def _opened(group):
    with scopes_disabled():
        return {
            (uuid_, period, created.astimezone(PARIS).date())
            for uuid_, period, created in Dossier.objects.filter(update_group=group).values_list(
                "profile__uuid", "period", "created_at"
            )
        }


@pytest.mark.parametrize(
    "start",
    [dt.date(2028, 1, 31), dt.date(2028, 2, 29), dt.date(2027, 12, 31)],
    ids=["month-end", "29-february", "year-end"],
)
def test_the_dispatcher_asks_each_profile_on_its_day_of_the_window(org, start):
    group = _spread_group(org, start, 3)
    days = spread.window(start, 3)
    for day in days:
        _pass(dt.datetime.combine(day, dt.time(8, 1), PARIS))
        # Passes later that day, or twice, open nothing more.
        _pass(dt.datetime.combine(day, dt.time(15), PARIS))
    opened = _opened(group)
    with scopes_disabled():
        everyone = set(Profile.objects.filter(organization=org).values_list("uuid", flat=True))
        runs = list(UpdateRun.objects.filter(group=group).values_list("period", "spread_days"))
        group.refresh_from_db()
    assert {u for u, _p, _d in opened} == everyone and len(opened) == len(everyone)
    # One period, the occurrence: one dossier per (group, period, profile).
    assert runs == [(start, 3)]
    for profile_uuid, period, created_on in opened:
        assert period == start
        assert created_on == days[spread.day_of(profile_uuid, 3)]
    per_day = Counter(created_on for _u, _p, created_on in opened)
    assert sum(per_day.values()) == 40 and set(per_day) <= set(days)
    # The window over, the group waits for its next occurrence.
    assert group.next_run_at == schedule.due_at(group.occurrence(1), PARIS)


def test_after_downtime_the_rest_of_a_window_goes_out_in_one_pass(org):
    start = dt.date(2028, 1, 31)
    group = _spread_group(org, start, 5)
    _pass(dt.datetime(2028, 1, 31, 8, 1, tzinfo=PARIS))
    first = len(_opened(group))
    # The dispatcher was down all week: the next pass asks everyone left, once.
    _pass(dt.datetime(2028, 2, 7, 9, tzinfo=PARIS))
    _pass(dt.datetime(2028, 2, 7, 10, tzinfo=PARIS))
    with scopes_disabled():
        assert Dossier.objects.filter(update_group=group).count() == 40
        assert Dossier.objects.filter(update_group=group, period=start).count() == 40
        group.refresh_from_db()
    assert 0 < first < 40
    assert group.next_run_at == schedule.due_at(dt.date(2028, 2, 29), PARIS)


def test_send_now_asks_the_rest_of_the_period_at_once(org, owner):
    start = dt.date(2028, 1, 31)
    group = _spread_group(org, start, 5)
    _pass(dt.datetime(2028, 1, 31, 8, 1, tzinfo=PARIS))
    with time_machine.travel(dt.datetime(2028, 1, 31, 9, tzinfo=PARIS), tick=False):
        with scope(organization=org):
            run = send_now(group, actor=Actor.member(owner), fan_out=False)
        open_run(run.pk)
    with scopes_disabled():
        assert Dossier.objects.filter(update_group=group, period=start).count() == 40
        assert UpdateRun.objects.get(pk=run.pk).spread_days == 1


def test_the_preview_shows_the_load_per_day(owner, org):
    with scopes_disabled():
        Profile.objects.bulk_create(
            Profile(organization=org, kind="contact", last_name=f"P{i}") for i in range(50)
        )
    with time_machine.travel(dt.datetime(2027, 12, 1, 9, tzinfo=dt.UTC), tick=False):
        owner_client = Client()
        owner_client.force_login(owner)
        response = owner_client.get(
            f"/o/{org.slug}/settings/fields/monitoring/new/preview/",
            {
                "title": "KYC",
                "applies_to": "contact",
                "start_date": "2027-12-31",
                "frequency": "1-months",
                "spread_days": "4",
            },
            HTTP_HX_REQUEST="true",
        )
    per_day = response.context["preview"].per_day
    assert [day for day, _n in per_day] == spread.window(dt.date(2027, 12, 31), 4)
    assert sum(n for _d, n in per_day) == 50
    assert "The next update's requests by working day" in response.text


def test_the_group_page_charts_the_next_90_days(owner, org, django_assert_num_queries):
    start = dt.date(2028, 1, 31)
    group = _spread_group(org, start, 4)
    with scopes_disabled():
        UpdateGroup.objects.filter(pk=group.pk).update(review_required=True)
    url = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/"
    with time_machine.travel(dt.datetime(2028, 1, 20, 9, tzinfo=dt.UTC), tick=False):
        owner_client = Client()
        owner_client.force_login(owner)
        owner_client.get(url)
        # The chart's own, plus the trigger fields and their backlog (one aggregate).
        with django_assert_num_queries(11):
            page = owner_client.get(url)
    chart = page.context["chart"]
    assert len(chart["bars"]) == 90
    # Three occurrences in 90 days (31 January, 29 February, 31 March), 40 requests each.
    assert chart["requests"] == 120
    assert chart["reviews"] > 0
    busy = {d.day: d.requests for d in chart["busy"] if d.requests}
    assert set(busy) <= set(
        spread.window(start, 4)
        + spread.window(dt.date(2028, 2, 29), 4)
        + spread.window(dt.date(2028, 3, 31), 4)
    )
    text = page.text
    assert "<svg" in text and 'role="img"' in text and "<desc" in text
    assert "Requests and expected reviews a day" in text
    assert "The same figures as a table" in text


def test_groups_saved_before_keep_their_calendar_and_ask_everyone(transactional_db, org):
    apps = migrate([("monitoring", "0012_ops_dispatch_pass")])
    OldGroup = apps.get_model("monitoring", "UpdateGroup")
    OldRun = apps.get_model("monitoring", "UpdateRun")
    old = OldGroup.objects.create(
        organization_id=org.pk,
        title="Old",
        applies_to="contact",
        start_date=dt.date(2027, 1, 4),
        next_run_at=dt.datetime(2027, 1, 4, 7, tzinfo=dt.UTC),
    )
    OldRun.objects.create(
        organization_id=org.pk,
        group_id=old.pk,
        period=dt.date(2026, 12, 4),
        index=0,
        due_at=dt.datetime(2026, 12, 4, 7, tzinfo=dt.UTC),
    )
    migrate(leaves())
    with scopes_disabled():
        group = UpdateGroup.objects.get(pk=old.pk)
        assert (group.audience, group.spread_days) == ([], 1)
        assert UpdateRun.objects.get(group=group).spread_days == 1
    field = factories.field(org, "text")
    from monitoring.models import GroupField

    with scopes_disabled():
        GroupField.objects.create(field=field, group=group, organization=org, applies_to="contact")
    factories.contact(org, last_name="A")
    factories.contact(org, last_name="B")
    _pass(dt.datetime(2027, 1, 4, 8, 1, tzinfo=PARIS))
    with scopes_disabled():
        assert Dossier.objects.filter(update_group=group, period=dt.date(2027, 1, 4)).count() == 2
