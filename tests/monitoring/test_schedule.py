from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from monitoring import schedule
from monitoring.models import UpdateGroup
from organizations.models import Organization

PARIS = ZoneInfo("Europe/Paris")


def test_a_31_january_anchor_runs_at_each_month_end_without_drift():
    start = dt.date(2024, 1, 31)
    dates = [schedule.occurrence(start, 1, "months", k) for k in range(5)]
    assert dates == [
        dt.date(2024, 1, 31),
        dt.date(2024, 2, 29),
        dt.date(2024, 3, 31),
        dt.date(2024, 4, 30),
        dt.date(2024, 5, 31),
    ]


def test_a_29_february_anchor_comes_back_on_leap_years_only():
    start = dt.date(2024, 2, 29)
    assert [schedule.occurrence(start, 1, "years", k) for k in range(5)] == [
        dt.date(2024, 2, 29),
        dt.date(2025, 2, 28),
        dt.date(2026, 2, 28),
        dt.date(2027, 2, 28),
        dt.date(2028, 2, 29),
    ]


def test_the_due_moment_follows_daylight_saving_time_in_paris():
    # 08:00 in Paris is 07:00 UTC in winter and 06:00 UTC in summer.
    winter = schedule.due_at(dt.date(2025, 3, 29), PARIS)
    summer = schedule.due_at(dt.date(2025, 3, 30), PARIS)
    assert (winter.hour, summer.hour) == (7, 6)
    assert schedule.due_at(dt.date(2025, 10, 26), PARIS).hour == 7


def test_weekly_occurrences_keep_local_time_across_the_change():
    start = dt.date(2025, 3, 23)
    moments = [schedule.due_at(schedule.occurrence(start, 1, "weeks", k), PARIS) for k in range(2)]
    assert [m.astimezone(PARIS).hour for m in moments] == [8, 8]
    assert moments[1] - moments[0] == dt.timedelta(days=7, hours=-1)


@pytest.mark.django_db
def test_a_group_created_after_its_start_begins_at_the_next_occurrence():
    org = Organization.objects.create(name="A", slug="a", time_zone="Europe/Paris")
    group = UpdateGroup(
        organization=org,
        title="g",
        applies_to="contact",
        start_date=dt.date(2024, 1, 31),
        interval_count=1,
        interval_unit="months",
    )
    group.schedule_from(now=dt.datetime(2024, 5, 10, 12, tzinfo=dt.UTC))
    assert group.next_date == dt.date(2024, 5, 31)
    assert group.next_run_at == dt.datetime(2024, 5, 31, 6, tzinfo=dt.UTC)
    assert group.upcoming(3) == [dt.date(2024, 5, 31), dt.date(2024, 6, 30), dt.date(2024, 7, 31)]


def test_the_latest_due_index_after_several_missed_periods():
    start = dt.date(2024, 1, 31)
    now = dt.datetime(2024, 6, 15, tzinfo=dt.UTC)
    assert schedule.last_index_due(start, 1, "months", PARIS, now) == 4  # 31 May
    early = dt.datetime(2024, 1, 31, 6, 59, tzinfo=dt.UTC)
    assert schedule.last_index_due(start, 1, "months", PARIS, early) is None


@given(
    start=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2040, 12, 31)),
    count=st.integers(min_value=1, max_value=24),
    unit=st.sampled_from(schedule.UNITS),
    day=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 12, 31)),
)
# The plain search walks up to 720 periods: on a busy CI machine one example may pass 200 ms.
@settings(deadline=None)
def test_first_index_matches_a_plain_search(start, count, unit, day):
    def reference() -> int:
        k = 0
        while start + relativedelta(**{unit: count * k}) < day:
            k += 1
        return k

    assert schedule.first_index_on_or_after(start, count, unit, day) == reference()
