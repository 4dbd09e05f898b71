"""The dispatcher's two paths agree: on PostgreSQL the common case is computed by the database,
the rest (and every row on SQLite) by Python; each group must end exactly where the Python
arithmetic (`monitoring.dispatch.plan`) puts it, to the second, whatever path it took."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import dispatch, schedule
from monitoring.models import GroupDue, UpdateGroup, UpdateRun
from organizations.models import Organization

# Zones with every kind of clock change: DST north and south, half-hour offsets and changes
# (Lord Howe), changes at midnight (Santiago, Havana), a skipped day (Apia, 30 December 2011).
ZONES = [
    "Europe/Paris",
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "America/Havana",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Africa/Casablanca",
    "Asia/Tehran",
    "Asia/Kolkata",
    "UTC",
]


@functools.cache
def _clock_changes() -> list[dt.datetime]:
    """The days of 2008-2032 on which a zone's offset at RUN_TIME differs from the day before."""
    found = []
    for name in ZONES:
        tz = ZoneInfo(name)
        day = dt.date(2008, 1, 1)
        before = schedule.due_at(day, tz).utcoffset()
        while day < dt.date(2032, 12, 31):
            day += dt.timedelta(days=1)
            moment = schedule.due_at(day, tz)
            offset = dt.datetime.combine(day, schedule.RUN_TIME, tzinfo=tz).utcoffset()
            if offset != before:
                found.append(moment)
            before = offset
    return found


MOMENTS = st.one_of(
    st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 12, 31)).map(
        lambda moment: moment.replace(tzinfo=dt.UTC)
    ),
    st.builds(
        lambda change, shift: change + dt.timedelta(minutes=shift),
        st.sampled_from(_clock_changes()),
        st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60),
    ),
)

GROUPS = st.lists(
    st.tuples(
        st.sampled_from(ZONES),
        st.integers(min_value=1, max_value=24),  # count
        st.sampled_from(schedule.UNITS),
        st.integers(min_value=0, max_value=40),  # periods between the start and now
        st.booleans(),  # anchored at the end of its month
        st.sampled_from([0, 0, 0, 0, 1, 2, 7]),  # periods missed (downtime)
    ),
    min_size=1,
    max_size=25,
)


def _build(org_by_zone: dict[str, Organization], now: dt.datetime, groups: list) -> list:
    rows = []
    for i, (zone, count, unit, back, month_end, missed) in enumerate(groups):
        tz = ZoneInfo(zone)
        start = now.astimezone(tz).date() - relativedelta(**{unit: count * back})
        if month_end:
            start = start + relativedelta(day=31)
        last = schedule.last_index_due(start, count, unit, tz, now)
        if last is None:
            continue
        index = max(0, last - missed)
        rows.append(
            UpdateGroup(
                organization=org_by_zone[zone],
                title=f"G{i}",
                applies_to="contact",
                start_date=start,
                interval_count=count,
                interval_unit=unit,
                next_index=index,
                next_run_at=schedule.due_at(schedule.occurrence(start, count, unit, index), tz),
            )
        )
    groups = UpdateGroup.objects.bulk_create(rows)
    # bulk_create calls no save(): each group's schedule row is written beside it.
    for group in groups:
        group.due.group = group
    GroupDue.objects.bulk_create(group.due for group in groups)
    return groups


def _expected(group: UpdateGroup, now: dt.datetime) -> tuple:
    tz = ZoneInfo(group.organization.time_zone)
    latest, skipped, due, index, following_due = dispatch.plan(
        group.start_date, group.interval_count, group.interval_unit, group.next_index, tz, now
    )
    period = schedule.occurrence(
        group.start_date, group.interval_count, group.interval_unit, latest
    )
    return (index, following_due, period, latest, skipped, due)


def _outcome(group: UpdateGroup) -> tuple:
    group.refresh_from_db()
    run = UpdateRun.objects.get(group=group)
    return (group.next_index, group.next_run_at, run.period, run.index, run.skipped, run.due_at)


@pytest.fixture
def orgs(db) -> dict[str, Organization]:
    return {
        zone: Organization.objects.create(name=zone, slug=f"z{i}", time_zone=zone)
        for i, zone in enumerate(ZONES)
    }


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(now=MOMENTS, groups=GROUPS)
def test_every_group_ends_where_the_python_arithmetic_puts_it(orgs, now, groups):
    with scopes_disabled(), transaction.atomic():
        built = _build(orgs, now, groups)
        expected = {group.pk: _expected(group, now) for group in built}
        run_ids = dispatch.dispatch_due(now=now, fan_out=False)
        assert sorted(run_ids) == sorted(UpdateRun.objects.values_list("pk", flat=True))
        assert {group.pk: _outcome(group) for group in built} == expected
        transaction.set_rollback(True)


def _group(org: Organization, start: dt.date, count: int, unit: str, index: int) -> UpdateGroup:
    tz = ZoneInfo(org.time_zone)
    with scopes_disabled():
        return UpdateGroup.objects.create(
            organization=org,
            title="g",
            applies_to="contact",
            start_date=start,
            interval_count=count,
            interval_unit=unit,
            next_index=index,
            next_run_at=schedule.due_at(schedule.occurrence(start, count, unit, index), tz),
        )


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]


@pytest.mark.django_db
def test_on_postgresql_the_common_case_is_one_statement(orgs):
    if connection.vendor != "postgresql":
        pytest.skip("the statement computed by the database is PostgreSQL's")
    now = dt.datetime(2024, 4, 30, 13, tzinfo=dt.UTC)
    groups = [
        _group(orgs["Europe/Paris"], dt.date(2024, 1, 31), 1, "months", 3),
        _group(orgs["Pacific/Auckland"], dt.date(2024, 1, 31), 3, "months", 1),
        _group(orgs["America/New_York"], dt.date(2023, 4, 30), 1, "years", 1),
    ]
    expected = {group.pk: _expected(group, now) for group in groups}
    dispatch.zones_known_to_database()  # read once per process, not per pass
    with scopes_disabled(), CaptureQueriesContext(connection) as queries:
        run_ids = dispatch.dispatch_due(now=now, fan_out=False)
    [statement] = _statements(queries)
    assert statement.lstrip().startswith("WITH claimed AS")
    assert len(run_ids) == 3
    with scopes_disabled():
        assert {group.pk: _outcome(group) for group in groups} == expected
        paris = UpdateGroup.objects.get(pk=groups[0].pk)
    # 31 May 2024, 08:00 in Paris: summer time, 06:00 UTC.
    assert paris.next_run_at == dt.datetime(2024, 5, 31, 6, tzinfo=dt.UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone", "start", "count", "unit", "index", "now"),
    [
        # Due on the morning Paris moves to summer time, the next one a month later.
        ("Europe/Paris", dt.date(2025, 1, 30), 1, "months", 2, dt.datetime(2025, 3, 30, 7)),
        # Daily across the change: the following run falls the day after it.
        ("Europe/Paris", dt.date(2025, 3, 1), 1, "days", 28, dt.datetime(2025, 3, 29, 9)),
        # Apia skipped 30 December 2011: a daily group due the day before.
        ("Pacific/Apia", dt.date(2011, 12, 1), 1, "days", 28, dt.datetime(2011, 12, 29, 20)),
        # Missed periods: the latest one runs, the others are counted.
        ("Europe/Paris", dt.date(2024, 1, 31), 1, "months", 1, dt.datetime(2024, 7, 10)),
    ],
)
def test_edge_rows_take_the_python_path_and_agree(orgs, zone, start, count, unit, index, now):
    now = now.replace(tzinfo=dt.UTC)
    group = _group(orgs[zone], start, count, unit, index)
    with scopes_disabled():
        expected = _expected(group, now)
        with CaptureQueriesContext(connection) as queries:
            [run_id] = dispatch.dispatch_due(now=now, fan_out=False)
        assert _outcome(group) == expected
        assert UpdateRun.objects.get().pk == run_id
    if connection.vendor == "postgresql":
        # The statement left the row to Python, which moved it by its own statements.
        assert len(_statements(queries)) > 1


@pytest.mark.django_db
def test_a_zone_the_database_does_not_know_is_left_to_python(orgs, monkeypatch):
    monkeypatch.setattr(dispatch, "zones_known_to_database", frozenset)
    now = dt.datetime(2024, 2, 29, 9, tzinfo=dt.UTC)
    group = _group(orgs["Europe/Paris"], dt.date(2024, 1, 31), 1, "months", 1)
    with scopes_disabled():
        expected = _expected(group, now)
        dispatch.dispatch_due(now=now, fan_out=False)
        assert _outcome(group) == expected


@pytest.mark.django_db
def test_a_run_recorded_before_the_pass_is_returned_and_the_group_moves_on(orgs):
    now = dt.datetime(2024, 2, 29, 9, tzinfo=dt.UTC)
    group = _group(orgs["Europe/Paris"], dt.date(2024, 1, 31), 1, "months", 1)
    with scopes_disabled():
        earlier = UpdateRun.objects.create(
            organization=group.organization,
            group=group,
            period=dt.date(2024, 2, 29),
            index=1,
            due_at=group.next_run_at,
        )
        assert dispatch.dispatch_due(now=now, fan_out=False) == [earlier.pk]
        group.refresh_from_db()
        assert (group.next_index, UpdateRun.objects.count()) == (2, 1)
        assert dispatch.dispatch_due(now=now, fan_out=False) == []
