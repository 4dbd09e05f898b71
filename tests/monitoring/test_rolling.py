"""Rolling and tiered cadences: per-profile schedule rows, kept by the writes, dispatched
with SKIP LOCKED, one request per (group, due day, profile)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import TestCase
from django_scopes import scope, scopes_disabled
from hypothesis import given
from hypothesis import strategies as st

from dossiers.models import Dossier
from monitoring import actions, rolling
from monitoring.models import Cadence, GroupDue, ProfileSchedule, UpdateGroup, UpdateRun
from organizations.actors import Actor
from organizations.models import AuditEntry
from profiles.models import Source
from profiles.services import NewValue, apply_values
from tests import factories

START = dt.datetime(2026, 3, 14, 9, tzinfo=dt.UTC)


def _group(org, fields, **kwargs):
    kwargs.setdefault("cadence", Cadence.ROLLING)
    kwargs.setdefault("interval_count", 12)
    return factories.saved_group(org, fields, **kwargs)


def _row(group, profile):
    with scopes_disabled():
        return ProfileSchedule.objects.get(group=group, profile=profile)


def _evidence(profile, field, value="x"):
    with scope(organization=profile.organization):
        apply_values(
            profile,
            [NewValue(field, value)],
            source=Source.DOSSIER,
            evidence=lambda f: None,
        )


def _set(profile, field, value):
    with scope(organization=profile.organization):
        apply_values(profile, [NewValue(field, value)], source=Source.STAFF)


def _dispatch(now):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return rolling.dispatch_due(now=now)


def _dossiers(group):
    with scopes_disabled():
        return list(
            Dossier.objects.filter(update_group=group)
            .order_by("period", "profile_id")
            .values_list("profile_id", "period")
        )


@pytest.fixture
def risk(org):
    return factories.field(org, "choice", choices=["High", "Medium", "Low"], label="Risk")


@pytest.mark.django_db
def test_a_profile_never_evidenced_is_due_one_interval_after_it_joined(org):
    field = factories.field(org)
    jane = factories.contact(org)
    with time_machine.travel(START, tick=False):
        group = _group(org, [field])
    row = _row(group, jane)
    assert row.due_on == dt.date(2027, 3, 14)
    assert row.next_due == dt.datetime(2027, 3, 14, 7, tzinfo=dt.UTC)  # 08:00 in Paris


@pytest.mark.django_db
def test_answering_early_moves_the_next_due_moment(org):
    field = factories.field(org)
    jane = factories.contact(org)
    with time_machine.travel(START, tick=False):
        group = _group(org, [field])
    with time_machine.travel(dt.datetime(2026, 6, 2, 10, tzinfo=dt.UTC), tick=False):
        _evidence(jane, field)
    row = _row(group, jane)
    assert row.due_on == dt.date(2027, 6, 2)
    assert row.evidenced_at == dt.datetime(2026, 6, 2, 10, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_staff_edit_is_no_evidence(org):
    field = factories.field(org)
    jane = factories.contact(org)
    with time_machine.travel(START, tick=False):
        group = _group(org, [field])
    with time_machine.travel(dt.datetime(2026, 6, 2, 10, tzinfo=dt.UTC), tick=False):
        _set(jane, field, "typed by staff")
    assert _row(group, jane).due_on == dt.date(2027, 3, 14)


@pytest.mark.django_db
def test_the_dispatcher_opens_one_dossier_on_the_due_day_and_moves_the_row(org):
    field = factories.field(org)
    jane = factories.contact(org)
    john = factories.contact(org, email="john@example.com", first_name="John")
    with time_machine.travel(START, tick=False):
        group = _group(org, [field], interval_count=1)
    with time_machine.travel(dt.datetime(2026, 3, 20, 9, tzinfo=dt.UTC), tick=False):
        later = factories.contact(org, email="late@example.com")
    # 08:00 in Paris, in summer time, is 06:00 UTC.
    assert _dispatch(dt.datetime(2026, 4, 14, 5, 59, tzinfo=dt.UTC)) == []
    run_ids = _dispatch(dt.datetime(2026, 4, 14, 6, tzinfo=dt.UTC))
    assert len(run_ids) == 1
    with scopes_disabled():
        run = UpdateRun.objects.get(pk=run_ids[0])
    assert (run.group_id, run.period, run.dossiers_opened) == (group.pk, dt.date(2026, 4, 14), 2)
    assert {p for p, _ in _dossiers(group)} == {jane.pk, john.pk}
    assert _row(group, jane).asked_on == dt.date(2026, 4, 14)
    assert _row(group, jane).due_on == dt.date(2026, 5, 14)
    assert _row(group, later).due_on == dt.date(2026, 4, 20)
    # A second pass the same minute finds nothing due.
    assert _dispatch(dt.datetime(2026, 4, 14, 6, 2, tzinfo=dt.UTC)) == []
    assert len(_dossiers(group)) == 2


@pytest.mark.django_db
def test_after_the_dispatcher_was_down_a_week_one_request_not_a_storm(org):
    field = factories.field(org)
    jane = factories.contact(org)
    with time_machine.travel(START, tick=False):
        group = _group(org, [field], interval_count=1, interval_unit="days")
    _dispatch(dt.datetime(2026, 3, 22, 12, tzinfo=dt.UTC))
    _dispatch(dt.datetime(2026, 3, 22, 12, 1, tzinfo=dt.UTC))
    assert _dossiers(group) == [(jane.pk, dt.date(2026, 3, 22))]
    with scopes_disabled():
        assert UpdateRun.objects.get().skipped == 0
    assert _row(group, jane).due_on == dt.date(2026, 3, 23)
    # What the pass wrote is what a fresh computation finds: the nightly check mends nothing.
    assert rolling.rebuild(org.pk) == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("evidenced", "due"),
    [
        (dt.datetime(2026, 1, 31, 10, tzinfo=dt.UTC), dt.date(2026, 2, 28)),
        (dt.datetime(2028, 1, 31, 10, tzinfo=dt.UTC), dt.date(2028, 2, 29)),
        # 23:30 UTC on 31 March is already 1 April in Paris: the local day counts.
        (dt.datetime(2027, 3, 31, 23, 30, tzinfo=dt.UTC), dt.date(2027, 5, 1)),
        (dt.datetime(2027, 12, 31, 23, 30, tzinfo=dt.UTC), dt.date(2028, 2, 1)),
    ],
)
def test_month_ends_and_the_local_day(org, evidenced, due):
    field = factories.field(org)
    jane = factories.contact(org)
    with time_machine.travel(evidenced - dt.timedelta(days=1), tick=False):
        group = _group(org, [field], interval_count=1)
    with time_machine.travel(evidenced, tick=False):
        _evidence(jane, field)
    assert _row(group, jane).due_on == due


@pytest.mark.django_db
def test_evidenced_on_29_february_is_due_on_28_february_a_year_on(org):
    field = factories.field(org)
    jane = factories.contact(org)
    leap = dt.datetime(2028, 2, 29, 9, tzinfo=dt.UTC)
    with time_machine.travel(leap, tick=False):
        group = _group(org, [field])
        _evidence(jane, field)
    assert _row(group, jane).due_on == dt.date(2029, 2, 28)
    _dispatch(dt.datetime(2029, 2, 28, 7, 1, tzinfo=dt.UTC))
    assert _dossiers(group) == [(jane.pk, dt.date(2029, 2, 28))]


@pytest.mark.django_db
def test_the_due_moment_follows_the_clock_change(org):
    field = factories.field(org)
    jane = factories.contact(org)
    # Evidenced in winter time, due in summer time (Paris moves on 28 March 2027).
    with time_machine.travel(dt.datetime(2027, 2, 25, 9, tzinfo=dt.UTC), tick=False):
        group = _group(org, [field], interval_count=30, interval_unit="days")
        _evidence(jane, field)
    row = _row(group, jane)
    assert row.due_on == dt.date(2027, 3, 27)
    assert row.next_due == dt.datetime(2027, 3, 27, 7, tzinfo=dt.UTC)
    with time_machine.travel(dt.datetime(2027, 2, 26, 9, tzinfo=dt.UTC), tick=False):
        _evidence(jane, field, "y")
    row = _row(group, jane)
    assert row.due_on == dt.date(2027, 3, 28)
    assert row.next_due == dt.datetime(2027, 3, 28, 6, tzinfo=dt.UTC)
    assert _dispatch(dt.datetime(2027, 3, 28, 5, 59, tzinfo=dt.UTC)) == []
    assert len(_dispatch(dt.datetime(2027, 3, 28, 6, tzinfo=dt.UTC))) == 1


@pytest.mark.django_db
def test_a_tier_sets_the_interval_and_a_missing_tier_takes_the_default(org, risk):
    field = factories.field(org)
    high, low, unknown = (
        factories.contact(org, email=f"{n}@example.com") for n in ("high", "low", "unknown")
    )
    _set(high, risk, "High")
    _set(low, risk, "Low")
    with time_machine.travel(START, tick=False):
        group = _group(
            org,
            [field],
            cadence=Cadence.TIERED,
            tier_field=risk,
            tiers=[{"value": "High", "months": 12}, {"value": "Low", "months": 60}],
            interval_count=36,
        )
    assert _row(group, high).due_on == dt.date(2027, 3, 14)
    assert _row(group, low).due_on == dt.date(2031, 3, 14)
    assert _row(group, unknown).due_on == dt.date(2029, 3, 14)
    assert _row(group, high).tier == "High"


@pytest.mark.django_db
def test_a_raised_tier_makes_the_profile_due_now_and_the_history_says_so(org, risk):
    field = factories.field(org)
    jane = factories.contact(org)
    _set(jane, risk, "Low")
    with time_machine.travel(dt.datetime(2024, 3, 14, 9, tzinfo=dt.UTC), tick=False):
        group = _group(
            org,
            [field],
            cadence=Cadence.TIERED,
            tier_field=risk,
            tiers=[{"value": "High", "months": 12}, {"value": "Low", "months": 60}],
        )
    assert _row(group, jane).due_on == dt.date(2029, 3, 14)
    with time_machine.travel(START, tick=False):
        _set(jane, risk, "High")
    row = _row(group, jane)
    assert row.due_on == dt.date(2025, 3, 14)
    assert row.next_due < START
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="monitoring.schedule.moved")
    assert entry.details["tier_after"] == "High"
    _dispatch(START)
    assert _dossiers(group) == [(jane.pk, dt.date(2026, 3, 14))]
    # Lowered again: the next request moves out.
    with time_machine.travel(START + dt.timedelta(days=1), tick=False):
        _set(jane, risk, "Low")
    assert _row(group, jane).due_on == dt.date(2031, 3, 14)


@pytest.mark.django_db
def test_an_archived_profile_loses_its_row_and_a_calendar_group_has_none(org):
    field = factories.field(org)
    jane = factories.contact(org)
    with time_machine.travel(START, tick=False):
        group = _group(org, [field])
        with scopes_disabled():
            jane.archived_at = START
            jane.save()
            assert not ProfileSchedule.objects.filter(profile=jane).exists()
            jane.archived_at = None
            jane.save()
            assert ProfileSchedule.objects.filter(profile=jane).exists()
        group.cadence = Cadence.CALENDAR
        with scope(organization=org):
            actions.save_group(group, actor=Actor.system("test"))
    with scopes_disabled():
        assert not ProfileSchedule.objects.exists()


@pytest.mark.django_db
def test_the_nightly_check_mends_and_counts_what_drifted(org, caplog):
    field = factories.field(org)
    jane = factories.contact(org)
    with time_machine.travel(START, tick=False):
        group = _group(org, [field])
        assert rolling.rebuild(org.pk) == 0
        with scopes_disabled():
            ProfileSchedule.objects.filter(profile=jane).update(due_on=dt.date(2020, 1, 1))
            ProfileSchedule.objects.create(
                organization=org,
                group=group,
                profile=factories.contact(org, archived_at=START, email="gone@example.com"),
                joined_at=START,
                due_on=START.date(),
                next_due=START,
            )
        assert rolling.rebuild(org.pk) == 2
    assert "were stale" in caplog.text
    assert _row(group, jane).due_on == dt.date(2027, 3, 14)
    assert rolling.rebuild(org.pk) == 0


@pytest.mark.django_db
def test_calendar_groups_are_left_to_the_calendar_dispatcher(org):
    from monitoring.dispatch import dispatch_due

    field = factories.field(org)
    factories.contact(org)
    with time_machine.travel(START, tick=False):
        group = _group(org, [field])
    with scopes_disabled():
        GroupDue.objects.filter(group=group).update(next_run_at=START)
    assert dispatch_due(now=START + dt.timedelta(days=400), fan_out=False) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"tier_field": None}, "tier_field", "Choose the list field"),
        ({"tiers": []}, "tiers", "at least one tier"),
        ({"tiers": [{"value": "High", "months": 0}]}, "tiers", "never zero"),
        (
            {"tiers": [{"value": "High", "months": 12}, {"value": "High", "months": 24}]},
            "tiers",
            "given twice",
        ),
        ({"tiers": [{"value": "Extreme", "months": 12}]}, "tiers", "not a choice"),
    ],
)
def test_bad_tiers_are_refused_and_nothing_is_saved(org, risk, changes, field, message):
    text = factories.field(org)
    factories.contact(org)
    values = {"tier_field": risk, "tiers": [{"value": "High", "months": 12}], **changes}
    with pytest.raises(ValidationError) as refused:
        _group(org, [text], cadence=Cadence.TIERED, **values)
    assert message in " ".join(refused.value.message_dict[field])
    with scopes_disabled():
        assert not UpdateGroup.objects.exists()
        assert not ProfileSchedule.objects.exists()


@pytest.mark.django_db
def test_a_tier_field_that_is_not_a_list_is_refused(org):
    text = factories.field(org)
    with pytest.raises(ValidationError) as refused:
        _group(org, [], cadence=Cadence.TIERED, tier_field=text, tiers=[])
    assert "list field" in refused.value.message_dict["tier_field"][0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Every 12 months, Risk: High, last evidenced 14/03/2026"),
        ("fr", "Tous les 12 mois, Risk : High, dernière preuve le 14/03/2026"),
    ],
)
def test_the_popup_and_the_profile_page_show_the_profiles_own_next_update(
    member_client, org, risk, language, expected
):
    field = factories.field(org, label="Address")
    jane = factories.contact(org)
    _set(jane, risk, "High")
    with time_machine.travel(START, tick=False):
        _group(
            org,
            [field],
            cadence=Cadence.TIERED,
            tier_field=risk,
            tiers=[{"value": "High", "months": 12}],
            interval_count=36,
        )
        _evidence(jane, field, "1 rue de la Paix")
    member_client.cookies["django_language"] = language
    popup = member_client.get(
        f"/o/{org.slug}/profiles/{jane.uuid}/fields/{field.uuid}/monitoring/",
        HTTP_HX_REQUEST="true",
    )
    assert "14/03/2027" in popup.text
    assert expected in popup.text.replace("\u202f", " ").replace("\xa0", " ")
    page = member_client.get(f"/o/{org.slug}/profiles/{jane.uuid}/")
    assert "14/03/2027" in page.text
    assert expected.split(", ", 1)[1] in page.text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.mark.django_db
def test_the_group_page_and_the_follow_up_of_a_day(owner_client, org):
    field = factories.field(org, label="Address")
    factories.contact(org)  # Jane Doe
    with time_machine.travel(START, tick=False):
        group = _group(org, [field], interval_count=1)
    with time_machine.travel(dt.datetime(2026, 3, 20, 9, tzinfo=dt.UTC), tick=False):
        john = factories.contact(org, email="john@example.com", last_name="Smith")
    with time_machine.travel(dt.datetime(2026, 4, 10, 9, tzinfo=dt.UTC), tick=False):
        page = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/")
    assert "Send now" not in page.text
    send_now = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/send/"
    assert owner_client.post(send_now).status_code == 302
    assert _dossiers(group) == []
    assert "14/04/2026" in page.text and "20/04/2026" in page.text
    _dispatch(dt.datetime(2026, 4, 14, 6, tzinfo=dt.UTC))
    with time_machine.travel(dt.datetime(2026, 4, 15, 9, tzinfo=dt.UTC), tick=False):
        _dispatch(dt.datetime(2026, 4, 15, 9, tzinfo=dt.UTC))
        page = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/")
        assert "Recent days" in page.text
        day = owner_client.get(f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/2026-04-14/")
    assert day.status_code == 200
    assert day.context["outcomes"].sent == 1
    # Who was asked that day: Jane, not John, whose day is the 20th.
    assert "Doe" in day.text and "Smith" not in day.text
    assert _row(group, john).due_on == dt.date(2026, 4, 20)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_ask_each_due_profile_once(org):
    import threading

    from django.db import connection, connections

    from tests.conftest import need_service

    need_service(connection.vendor == "postgresql", "PostgreSQL")
    field = factories.field(org)
    for i in range(30):
        factories.contact(org, email=f"p{i}@example.com")
    with time_machine.travel(START, tick=False):
        group = _group(org, [field], interval_count=1)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    due = dt.datetime(2026, 4, 14, 6, tzinfo=dt.UTC)

    def run() -> None:
        try:
            barrier.wait()
            rolling.dispatch_due(now=due, batch=7)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with scopes_disabled():
        assert UpdateRun.objects.count() == 1
        assert Dossier.objects.filter(update_group=group).count() == 30
        assert not ProfileSchedule.objects.filter(next_due__lte=due).exists()
        assert set(ProfileSchedule.objects.values_list("asked_on", flat=True)) == {
            dt.date(2026, 4, 14)
        }


@pytest.mark.django_db
def test_a_new_time_zone_moves_the_due_moments(org):
    from organizations import actions as organization_actions

    field = factories.field(org)
    jane = factories.contact(org)
    with time_machine.travel(START, tick=False):
        group = _group(org, [field])
        with scope(organization=org):
            organization_actions.update_settings(
                org, actor=Actor.system("test"), time_zone="America/New_York"
            )
    row = _row(group, jane)
    assert row.due_on == dt.date(2027, 3, 14)
    assert row.next_due == dt.datetime(2027, 3, 14, 12, tzinfo=dt.UTC)  # 08:00 EDT


def test_at_a_months_end_the_day_asked_is_the_latest_one_interval_after_the_last():
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    # Evidenced 31 January, monthly, the dispatcher back on 29 March: 28 February was due,
    # then 28 March (one month after 28 February): that one is asked, the next is 28 April.
    now = dt.datetime(2026, 3, 29, 9, tzinfo=dt.UTC)
    _k, period, due_on, _moment = rolling.step(dt.date(2026, 1, 31), 1, "months", paris, now)
    assert (period, due_on) == (dt.date(2026, 3, 28), dt.date(2026, 4, 28))


@given(
    start=st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31))
    | st.sampled_from([dt.date(2026, 1, 31), dt.date(2027, 8, 31), dt.date(2028, 2, 29)]),
    count=st.integers(1, 24),
    unit=st.sampled_from(["days", "weeks", "months", "years"]),
    late=st.integers(0, 24 * 400) | st.sampled_from([24 * 27, 24 * 28, 24 * 29, 24 * 30]),
    zone=st.sampled_from(["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "UTC"]),
)
def test_a_step_asks_the_latest_due_day_once_and_moves_past_now(start, count, unit, late, zone):
    """Whatever the interval, zone and lateness: the day asked is a due day of the row's
    sequence, not after now; the next one is after now; a second pass asks nothing."""
    from zoneinfo import ZoneInfo

    from monitoring import schedule

    tz = ZoneInfo(zone)
    first = schedule.occurrence(start, count, unit, 1)
    now = schedule.due_at(first, tz) + dt.timedelta(hours=late)
    k, period, due_on, next_due = rolling.step(start, count, unit, tz, now)
    assert k is not None and k >= 1 and period is not None
    assert first <= period
    assert schedule.due_at(period, tz) <= now < next_due
    assert due_on == schedule.occurrence(period, count, unit, 1)
    assert rolling.step(period, count, unit, tz, now)[0] is None


@pytest.mark.django_db
def test_a_rolling_group_made_calendar_again_waits_for_its_next_occurrence(org):
    """Its next run is not left in the past: the next pass does not send at once."""
    from monitoring.dispatch import dispatch_due

    field = factories.field(org)
    factories.contact(org)
    with time_machine.travel(START, tick=False):
        group = _group(org, [field], interval_count=1)
    june = dt.datetime(2026, 6, 10, 9, tzinfo=dt.UTC)
    with time_machine.travel(june, tick=False):
        group.cadence = Cadence.CALENDAR
        with scope(organization=org):
            actions.save_group(group, actor=Actor.system("test"), fields=[field])
        group.refresh_from_db()
        assert group.next_run_at == dt.datetime(2026, 7, 1, 6, tzinfo=dt.UTC)  # 08:00 Paris
        with TestCase.captureOnCommitCallbacks(execute=True):
            assert dispatch_due(now=june) == []
    assert _dossiers(group) == []


@pytest.fixture
def three_due(org):
    """Three contacts of a monthly rolling group made on START: two due on 14 April, the one
    answering on 20 March due on 20 April."""
    field = factories.field(org)
    *_others, c = (factories.contact(org, email=f"r{i}@example.com") for i in range(3))
    with time_machine.travel(START, tick=False):
        group = _group(org, [field], interval_count=1)
    with time_machine.travel(dt.datetime(2026, 3, 20, 10, tzinfo=dt.UTC), tick=False):
        _evidence(c, field)
    return group


@pytest.mark.django_db
def test_the_workload_counts_each_profile_on_its_own_due_day(org, three_due):
    from home.selectors import coming_requests
    from monitoring import workload

    today = dt.date(2026, 3, 21)
    with scope(organization=org):
        load = {d.day: d.requests for d in workload.group_load(three_due, today) if d.requests}
        coming = [(c.day, c.requests) for c in coming_requests(org, today)]
    assert load == {dt.date(2026, 4, 14): 2, dt.date(2026, 4, 20): 1}
    assert coming == [(dt.date(2026, 4, 14), 2), (dt.date(2026, 4, 20), 1)]


@pytest.mark.django_db
def test_a_rolling_run_in_progress_counts_the_profiles_asked_that_day(org, three_due):
    from home.selectors import runs_in_progress
    from monitoring.followup import opening_progress

    with TestCase.captureOnCommitCallbacks(execute=False):
        [run_id] = rolling.dispatch_due(now=dt.datetime(2026, 4, 14, 9, tzinfo=dt.UTC))
    with scope(organization=org):
        [progress] = runs_in_progress(org)
        run = UpdateRun.objects.select_related("group").get(pk=run_id)
        assert (progress.opened, progress.expected) == (0, 2)
        total = opening_progress(run).total
    assert total == 2


@pytest.mark.django_db
def test_a_rolling_group_keeps_no_spread_window(org, three_due):
    three_due.spread_days = 5
    with scope(organization=org):
        actions.save_group(three_due, actor=Actor.system("test"))
    three_due.refresh_from_db()
    assert three_due.spread_days == 1


@pytest.mark.django_db
def test_an_audience_on_an_archived_field_asks_nobody_and_its_rows_go(org, risk):
    from profiles.actions import archive_field, restore_field

    proof = factories.field(org, "text", label="Proof")
    high = factories.contact(org, last_name="High")
    _set(high, risk, "High")
    group = _group(org, [proof], audience=[{"field": str(risk.uuid), "op": "eq", "value": "High"}])
    assert _row(group, high)
    with scope(organization=org):
        archive_field(risk, actor=Actor.system("test"))
        # Any later refresh of the profile compiles the group's audience too.
        _set(high, proof, "on file")
    with scopes_disabled():
        assert not ProfileSchedule.objects.filter(group=group).exists()
    with scope(organization=org):
        restore_field(risk, actor=Actor.system("test"))
    assert _row(group, high)
