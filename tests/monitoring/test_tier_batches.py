"""A tier change on a batch of profiles (an import, the API's upsert): the schedule rows and
the history follow in a constant number of statements whatever the batch's size, and on
PostgreSQL the database's computation of the due days and moments is the Python one's."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from monitoring import receivers, rolling
from monitoring.models import Cadence, ProfileSchedule
from organizations.integrity import verify
from organizations.models import AuditEntry, AuditSubject
from profiles.models import FieldValue, Profile
from tests import factories

START = dt.datetime(2026, 3, 14, 9, tzinfo=dt.UTC)
TIERS = [{"value": "High", "months": 12}, {"value": "Low", "months": 60}]

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the database's computation is PostgreSQL's"
)


def _group(org, fields, **kwargs):
    kwargs.setdefault("cadence", Cadence.TIERED)
    kwargs.setdefault("interval_count", 36)
    return factories.saved_group(org, fields, **kwargs)


def _contacts(org, risk, n, tier="Low"):
    profiles = [factories.contact(org, email=f"p{i}@example.com") for i in range(n)]
    with scopes_disabled():
        FieldValue.objects.bulk_create(
            FieldValue(organization=org, profile=p, field=risk, value=tier) for p in profiles
        )
    return profiles


def _raise(org, risk, profiles):
    """The import's write of the new tier, then its receiver, as one batch; returns the
    receiver's queries."""
    with scopes_disabled():
        FieldValue.objects.filter(field=risk, profile__in=profiles).update(value="High")
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        receivers._values_imported(org.pk, profiles)
    return len(queries)


@pytest.fixture
def risk(org):
    return factories.field(org, "choice", choices=["High", "Low"], label="Risk")


@pytest.mark.django_db
@pytest.mark.parametrize("n", [3, 30])
def test_a_batch_tier_change_takes_the_same_queries_for_3_or_30_profiles(org, risk, n):
    profiles = _contacts(org, risk, n)
    with time_machine.travel(START, tick=False):
        group = _group(org, [factories.field(org)], tier_field=risk, tiers=TIERS)
        queries = _raise(org, risk, profiles)
    # The groups, the rows (one statement per batch on PostgreSQL, reads and a bulk write
    # elsewhere), the organisation, and the history's chain: none per profile.
    assert queries == (9 if connection.vendor == "postgresql" else 14)
    with scopes_disabled():
        rows = ProfileSchedule.objects.filter(group=group)
        assert {(r.tier, r.due_on) for r in rows} == {("High", dt.date(2027, 3, 14))}
        entries = AuditEntry.objects.filter(action="monitoring.schedule.moved")
        assert entries.count() == n
        assert {(e.details["tier_before"], e.details["tier_after"]) for e in entries} == {
            ("Low", "High")
        }
        assert AuditSubject.objects.filter(entry__in=entries, kind="profile").count() == n
        with scope(organization=org):
            assert verify(org).intact


@pytest.mark.django_db
def test_a_batch_entry_reads_as_one_written_alone(org, risk):
    """The history of a batch is the one a profile changed alone would have: same details,
    same subjects, the chain in order."""
    alone, *batch = _contacts(org, risk, 3)
    with time_machine.travel(START, tick=False):
        _group(org, [], tier_field=risk, tiers=TIERS)
        _raise(org, risk, [alone])
        _raise(org, risk, batch)
    with scopes_disabled():
        moved = AuditEntry.objects.filter(action="monitoring.schedule.moved")
        entries = list(moved.order_by("pk"))
        assert [e.seq for e in entries] == sorted(e.seq for e in entries)
        assert len({str(e.details) for e in entries}) == 1
        assert {e.target for e in entries} == {str(p) for p in [alone, *batch]}
        with scope(organization=org):
            assert verify(org).intact


# The database's computation against Python's: evidence, entries and requests on month
# ends, on 29 February, late in the evening (another local day), and due on a day the
# clock changes; each tier and none.
MOMENTS = [
    dt.datetime(2026, 1, 31, 10, tzinfo=dt.UTC),
    dt.datetime(2027, 8, 31, 21, 30, tzinfo=dt.UTC),
    dt.datetime(2028, 2, 29, 9, tzinfo=dt.UTC),
    dt.datetime(2027, 12, 31, 23, 30, tzinfo=dt.UTC),
    dt.datetime(2026, 3, 28, 9, tzinfo=dt.UTC),
    dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC),
    dt.datetime(2022, 3, 27, 12, tzinfo=dt.UTC),
]


def _varied(org, risk, evidence_field):
    profiles = []
    for i, moment in enumerate(MOMENTS * 3):
        profile = factories.contact(org, email=f"v{i}@example.com")
        with scopes_disabled():
            tier = ["High", "Low", None][i // len(MOMENTS)]
            if tier:
                FieldValue.objects.create(organization=org, profile=profile, field=risk, value=tier)
            FieldValue.objects.create(
                organization=org,
                profile=profile,
                field=evidence_field,
                value="x",
                last_evidenced_at=moment if i % 2 else None,
            )
            if i % 3 == 0:
                ProfileSchedule.objects.filter(profile=profile).update(
                    asked_on=(moment + dt.timedelta(days=40)).date()
                )
        profiles.append(profile)
    return profiles


def _row(group, profile):
    with scopes_disabled():
        return ProfileSchedule.objects.get(group=group, profile=profile)


def _python_finds(group, ids):
    with scopes_disabled():
        return rolling._refresh_page(group, ids, START)


def _database_finds(group, ids):
    with scopes_disabled():
        return rolling._refresh_in_database([group], ids, START)


@on_postgresql
@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize(
    ("months", "unit"), [(12, "months"), (1, "months"), (2, "years"), (30, "days"), (5, "weeks")]
)
def test_the_database_computes_the_rows_python_computes(org, risk, zone, months, unit):
    org.time_zone = zone
    org.save()
    evidence = factories.field(org)
    with time_machine.travel(START, tick=False):
        group = _group(
            org,
            [evidence],
            tier_field=risk,
            tiers=[{"value": "High", "months": months}, {"value": "Low", "months": 13}],
            interval_count=months,
            interval_unit=unit,
        )
    group.refresh_from_db()
    for moment_offset in (dt.timedelta(0), dt.timedelta(days=400)):
        with time_machine.travel(MOMENTS[0] - moment_offset, tick=False):
            ids = [p.pk for p in _varied(org, risk, evidence)]
        # Python writes, the database's statement then finds nothing to mend; and back.
        _python_finds(group, ids)
        assert _database_finds(group, ids) == (0, [])
        with scopes_disabled():
            ProfileSchedule.objects.filter(group=group).update(due_on=dt.date(2000, 1, 1))
        assert _database_finds(group, ids)[0] == len(ids)
        assert _python_finds(group, ids) == (0, [])
        with scopes_disabled():
            FieldValue.objects.filter(field=risk).delete()
            ProfileSchedule.objects.filter(group=group).delete()
            Profile.objects.filter(pk__in=ids).delete()


@on_postgresql
@pytest.mark.django_db
def test_on_the_day_the_clock_changes_the_moment_is_pythons(org, risk):
    evidence = factories.field(org)
    jane = factories.contact(org)
    with time_machine.travel(dt.datetime(2026, 3, 28, 9, tzinfo=dt.UTC), tick=False):
        group = _group(org, [evidence], cadence=Cadence.ROLLING, interval_count=12)
    row = _row(group, jane)
    # Due on 28 March 2027, when Paris moves to summer time: 08:00 is 06:00 UTC.
    assert row.due_on == dt.date(2027, 3, 28)
    assert row.next_due == dt.datetime(2027, 3, 28, 6, tzinfo=dt.UTC)
    # A moment out of line on that day is mended, and counted once.
    with scopes_disabled():
        ProfileSchedule.objects.filter(pk=row.pk).update(next_due=START)
    assert _database_finds(group, [jane.pk]) == (1, [])
    row = _row(group, jane)
    assert row.next_due == dt.datetime(2027, 3, 28, 6, tzinfo=dt.UTC)
    assert _database_finds(group, [jane.pk]) == (0, [])


@on_postgresql
@pytest.mark.django_db
def test_groups_sharing_an_audience_and_one_narrowed_each_keep_their_own_rows(org, risk):
    """Groups asking everyone share one read of the page's profiles in the statement; a
    group narrowed by a condition keeps its own: its rows come and go with the condition."""
    first, second = _contacts(org, risk, 2)
    condition = {"field": str(risk.uuid), "op": "eq", "value": "High"}
    with time_machine.travel(START, tick=False):
        for title in ("A", "B"):
            _group(org, [], title=title, cadence=Cadence.ROLLING, interval_count=12)
        _group(org, [], title="C", cadence=Cadence.ROLLING, audience=[condition])

    def rows():
        with scopes_disabled():
            return set(ProfileSchedule.objects.values_list("group__title", "profile_id", "due_on"))

    def refresh(tier, profile):
        with scopes_disabled():
            FieldValue.objects.filter(field=risk, profile=profile).update(value=tier)
        with time_machine.travel(START, tick=False), scopes_disabled():
            rolling.refresh(org.pk, profile_ids=[first.pk, second.pk])

    everyone = {
        (title, p.pk, dt.date(2027, 3, 14)) for title in ("A", "B") for p in (first, second)
    }
    with scopes_disabled():
        ProfileSchedule.objects.all().delete()
    refresh("High", first)
    assert rows() == everyone | {("C", first.pk, dt.date(2029, 3, 14))}
    refresh("High", second)
    assert rows() == everyone | {("C", p.pk, dt.date(2029, 3, 14)) for p in (first, second)}
    refresh("Low", first)
    assert rows() == everyone | {("C", second.pk, dt.date(2029, 3, 14))}
