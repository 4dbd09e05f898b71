"""The monitoring actions: each verb's own behaviour, then the doors that call it."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import json
import re
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from monitoring import actions
from monitoring.dispatch import dispatch_group_now, open_run
from monitoring.models import GroupDue, UpdateGroup, UpdateRun
from organizations.actors import Actor
from organizations.models import AuditEntry
from profiles.models import FieldValue
from profiles.services import NewValue, apply_values
from tests import factories
from tests.api.conftest import client_for, issue

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(MOMENT, tick=False):
        yield


def _entries(action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def _new_group(org, **kwargs) -> UpdateGroup:
    defaults = {
        "title": "KYC",
        "applies_to": "contact",
        "start_date": dt.date(2027, 1, 31),
        "interval_count": 1,
        "interval_unit": "months",
    }
    return UpdateGroup(organization=org, **{**defaults, **kwargs})


def _filled_value(org, expires_on=None) -> FieldValue:
    field = factories.field(org, "text", label="Passport")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(field, "P-1")], source="staff")
        value = FieldValue.objects.select_related("organization", "profile", "field").get(
            field=field
        )
        if expires_on:
            FieldValue.objects.filter(pk=value.pk).update(expires_on=expires_on)
            value.refresh_from_db()
    return value


def _run(org, group) -> UpdateRun:
    with scopes_disabled():
        run_id = dispatch_group_now(group.pk, fan_out=False)
        open_run(run_id)
        return UpdateRun.objects.select_related("group", "organization").get(pk=run_id)


# save_group ---------------------------------------------------------------------------------


def test_save_group_creates_schedules_and_records_the_member(org, owner):
    proof = factories.field(org, "document", label="Proof")
    with scope(organization=org):
        group = actions.save_group(_new_group(org), actor=Actor.member(owner), fields=[proof])
    assert factories.group_id_of(proof) == group.pk
    assert group.next_date == dt.date(2027, 3, 31)  # anchored at the 31st: 28 Feb is past
    [entry] = _entries("monitoring.group.created")
    assert entry.actor == AuditEntry.Actor.MEMBER and entry.user == owner
    assert entry.organization == org and entry.details["fields"] == "Proof"


def test_save_group_refuses_a_field_of_another_group_on_fields_and_writes_nothing(org, owner):
    proof = factories.field(org, "document", label="Proof")
    factories.group(org, [proof], title="Held")
    group = _new_group(org, title="Second")
    with scope(organization=org), pytest.raises(ValidationError) as refused:
        actions.save_group(group, actor=Actor.member(owner), fields=[proof])
    assert refused.value.message_dict == {
        "fields": ["“Proof” already belongs to the group “Held”."]
    }
    with scopes_disabled():
        assert list(UpdateGroup.objects.values_list("title", flat=True)) == ["Held"]
    assert not _entries("monitoring.group.created")


def test_save_group_refuses_a_field_of_another_organisation_even_unscoped(org, other_org, owner):
    theirs = factories.field(other_org, "text")
    with scopes_disabled(), pytest.raises(ValidationError) as refused:
        actions.save_group(_new_group(org), actor=Actor.member(owner), fields=[theirs])
    assert list(refused.value.message_dict) == ["fields"]
    with scopes_disabled():
        assert factories.group_id_of(theirs) is None
        assert not UpdateGroup.objects.exists()


def test_a_new_group_refused_in_the_race_is_still_a_group_to_create(org, owner):
    field = factories.field(org, "text")
    group = _new_group(org)
    other = factories.group(org, [field], title="Quicker")
    # The check passed; another group took the field before the conditional write.
    with (
        scope(organization=org),
        mock.patch("monitoring.services.field_problems", return_value=[]),
        pytest.raises(ValidationError) as refused,
    ):
        actions.save_group(group, actor=Actor.member(owner), fields=[field])
    assert refused.value.message_dict == {"fields": [str(actions.FIELD_TAKEN)]}
    assert group.pk is None and group._state.adding
    with scopes_disabled():
        assert list(UpdateGroup.objects.values_list("pk", flat=True)) == [other.pk]


def test_save_group_reschedules_only_when_the_timing_changes(org, owner):
    group = factories.group(org, [], start_date=dt.date(2020, 1, 1))
    with scope(organization=org):
        # Sent ahead of its date: a rename must not move the group back.
        GroupDue.objects.filter(group=group).update(next_index=88)
        group.refresh_from_db()
        group.title = "Renamed"
        actions.save_group(group, actor=Actor.member(owner))
        group.refresh_from_db()
        assert group.next_date == dt.date(2027, 5, 1)
        group.interval_unit = "years"
        actions.save_group(group, actor=Actor.member(owner))
    assert group.next_date == dt.date(2028, 1, 1)
    assert len(_entries("monitoring.group.updated")) == 2


def test_save_group_resuming_a_paused_group_starts_at_its_next_occurrence(org, owner):
    group = factories.group(org, [], start_date=dt.date(2020, 1, 1))
    with scope(organization=org):
        actions.set_group_active(group, actor=Actor.member(owner), active=False)
        # Paused for years: resuming must not send the missed periods in a burst.
        GroupDue.objects.filter(group=group).update(next_index=0)
        group.refresh_from_db()
        group.is_active = True
        actions.save_group(group, actor=Actor.of_api_key(issue(org)[0]))
        group.refresh_from_db()
    assert group.is_active and group.next_date == dt.date(2027, 3, 1)
    [entry] = _entries("monitoring.group.updated")
    assert entry.actor == AuditEntry.Actor.API_KEY and entry.details["api_key"] == "CRM sync"


# delete, pause and resume, send now ---------------------------------------------------------


def test_delete_group_frees_its_fields_and_keeps_its_title_in_the_log(org, owner):
    field = factories.field(org, "text")
    group = factories.group(org, [field], title="Yearly KYC")
    with scope(organization=org):
        assert actions.delete_group(group, actor=Actor.member(owner)) == "Yearly KYC"
    assert factories.group_id_of(field) is None
    [entry] = _entries("monitoring.group.deleted")
    assert entry.target == "Yearly KYC" and entry.organization == org


def test_set_group_active_records_each_change_and_nothing_for_no_change(org, owner):
    group = factories.group(org, [])
    actor = Actor.member(owner)
    with scope(organization=org):
        actions.set_group_active(group, actor=actor, active=True)
        actions.set_group_active(group, actor=actor, active=False)
        actions.set_group_active(group, actor=actor, active=False)
        actions.set_group_active(group, actor=actor, active=True)
        group.refresh_from_db()
    assert group.is_active
    with scopes_disabled():
        logged = list(
            AuditEntry.objects.filter(action__startswith="monitoring.group.")
            .order_by("id")
            .values_list("action", flat=True)
        )
    assert logged == ["monitoring.group.paused", "monitoring.group.resumed"]


def test_send_now_records_the_run_once_and_nothing_for_a_paused_group(org):
    group = factories.group(org, [], start_date=dt.date(2027, 1, 1))
    actor = Actor.system("test")
    with scope(organization=org):
        run = actions.send_now(group, actor=actor, fan_out=False)
        again = actions.send_now(group, actor=actor, fan_out=False)
        assert run is not None and again is not None
        assert run.pk == again.pk and run.period == dt.date(2027, 3, 1)
        actions.set_group_active(group, actor=actor, active=False)
        assert actions.send_now(group, actor=actor, fan_out=False) is None
    entries = _entries("monitoring.group.sent_now")
    assert [e.details["period"] for e in entries] == ["2027-03-01", "2027-03-01"]
    assert {(e.actor, e.details["job"]) for e in entries} == {(AuditEntry.Actor.SYSTEM, "test")}


# remind, export ----------------------------------------------------------------------------


def test_remind_run_reminds_once_an_hour_and_records_what_went_out(org, owner):
    field = factories.field(org, "text")
    factories.contact(org, email="a@example.com")
    factories.contact(org, email="b@example.com")
    group = factories.group(org, [field], start_date=dt.date(2027, 3, 1))
    run = _run(org, group)
    with scope(organization=org):
        first = actions.remind_run(run, actor=Actor.member(owner))
        second = actions.remind_run(run, actor=Actor.member(owner))
    assert (first.dossiers, first.sent, first.fresh, first.already) == (2, True, 2, 0)
    # The second says how many it skipped, and from when they can be reminded again.
    assert (second.dossiers, second.sent, second.fresh, second.already) == (2, False, 0, 2)
    assert second.again_at is not None and second.again_at > timezone.now()
    assert second.again_at.minute == 0
    [entry] = _entries("monitoring.run.reminded")
    assert entry.details == {"period": "2027-03-01", "dossiers": "2"}


def test_export_run_returns_the_outstanding_rows_and_records_the_read(org, owner):
    field = factories.field(org, "text")
    factories.contact(org, last_name="Martin", email="m@example.com")
    group = factories.group(org, [field], start_date=dt.date(2027, 3, 1))
    run = _run(org, group)
    with scope(organization=org):
        rows = list(actions.export_run(run, actor=Actor.member(owner)))
    assert [row[0] for row in rows] == ["Martin"]
    [entry] = _entries("monitoring.run.exported")
    assert entry.details == {"period": "2027-03-01"} and entry.user == owner


# set and clear an expiry date -----------------------------------------------------------------


def test_set_and_clear_expiry_write_the_value_and_record_before_and_after(org, owner):
    value = _filled_value(org)
    actor = Actor.member(owner)
    with scope(organization=org):
        change = actions.set_expiry(value, actor=actor, expires_on=dt.date(2030, 1, 1))
        assert change.changed and change.before is None
        same = actions.set_expiry(value, actor=actor, expires_on=dt.date(2030, 1, 1))
        assert not same.changed
        cleared = actions.clear_expiry(value, actor=actor)
        assert cleared == actions.Expiry(before=dt.date(2030, 1, 1), after=None)
        assert FieldValue.objects.get(pk=value.pk).expires_on is None
    [set_entry] = _entries("monitoring.expiry.set")
    [clear_entry] = _entries("monitoring.expiry.cleared")
    assert set_entry.target == f"{value.profile.display_name} — Passport"
    assert set_entry.details == {"before": None, "after": "2030-01-01"}
    assert clear_entry.details == {"before": "2030-01-01", "after": None}


def test_set_expiry_refuses_a_date_out_of_range_but_keeps_one_on_file(org, owner):
    value = _filled_value(org, expires_on=dt.date(2250, 1, 1))
    actor = Actor.member(owner)
    with scope(organization=org):
        with pytest.raises(ValidationError) as refused:
            actions.set_expiry(value, actor=actor, expires_on=dt.date(2301, 1, 1))
        assert list(refused.value.message_dict) == ["expires_on"]
        kept = actions.set_expiry(value, actor=actor, expires_on=dt.date(2250, 1, 1))
    assert not kept.changed
    assert not _entries("monitoring.expiry.set")


def test_an_empty_value_has_no_expiry_date_to_set(org, owner):
    value = _filled_value(org)
    with scopes_disabled():
        FieldValue.objects.filter(pk=value.pk).update(value=None)
        value.refresh_from_db()
    with scope(organization=org), pytest.raises(ValidationError) as refused:
        actions.set_expiry(value, actor=Actor.member(owner), expires_on=dt.date(2030, 1, 1))
    assert list(refused.value.message_dict) == ["expires_on"]
    with scopes_disabled():
        assert FieldValue.objects.get(pk=value.pk).expires_on is None


def test_the_expiry_is_written_through_the_profiles_service(org, owner):
    """The pop-up no longer writes another app's FieldValue itself: profiles does."""
    value = _filled_value(org)
    with (
        scope(organization=org),
        mock.patch("monitoring.actions.set_expiry_date", wraps=actions.set_expiry_date) as written,
    ):
        actions.set_expiry(value, actor=Actor.member(owner), expires_on=dt.date(2031, 5, 6))
    written.assert_called_once_with(value, dt.date(2031, 5, 6))


# Its doors call it --------------------------------------------------------------------------


def _spy(verb: str):
    return mock.patch(f"monitoring.actions.{verb}", wraps=getattr(actions, verb))


def test_save_group_doors_the_group_form_new_and_edit_and_the_api_create_and_update(
    org, owner_client
):
    field = factories.field(org, "text")
    form = {
        "title": "KYC",
        "applies_to": "contact",
        "start_date": "2027-01-31",
        "frequency": "3-months",
        "interval_count": "",
        "interval_unit": "months",
        "fields": [field.pk],
    }
    with _spy("save_group") as spy:
        created = owner_client.post(f"/o/{org.slug}/settings/fields/monitoring/new/", form)
        assert created.status_code == 302
    assert spy.call_count == 1
    with scopes_disabled():
        group = UpdateGroup.objects.get()
    with _spy("save_group") as spy:
        edited = owner_client.post(
            f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/edit/",
            {**form, "title": "KYC yearly"},
        )
        assert edited.status_code == 302
    assert spy.call_count == 1
    api = client_for(issue(org)[1])
    body = {
        "title": "API",
        "applies_to": "company",
        "start_date": "2027-01-31",
        "interval_count": 1,
        "interval_unit": "years",
        "fields": [],
    }
    with _spy("save_group") as spy:
        response = api.post("/api/v1/groups/", json.dumps(body), content_type="application/json")
        assert response.status_code == 201, response.json()
    assert spy.call_count == 1
    with _spy("save_group") as spy:
        response = api.patch(
            f"/api/v1/groups/{response.json()['uuid']}/",
            json.dumps({"title": "API 2"}),
            content_type="application/json",
        )
        assert response.status_code == 200
    assert spy.call_count == 1


def test_the_group_forms_refusal_comes_from_the_action_on_its_field(org, owner_client):
    held = factories.field(org, "text", label="Address")
    factories.group(org, [held], title="Proof of address")
    with _spy("save_group") as spy:
        response = owner_client.post(
            f"/o/{org.slug}/settings/fields/monitoring/new/",
            {
                "title": "Second",
                "applies_to": "contact",
                "start_date": "2027-01-31",
                "frequency": "1-months",
                "interval_unit": "months",
                "fields": [held.pk],
            },
        )
    assert spy.call_count == 1 and response.status_code == 200
    assert response.context["form"].errors["fields"] == [
        "“Address” already belongs to the group “Proof of address”."
    ]
    assert response.context["group"] is None


def test_delete_group_doors_the_settings_page_and_the_api(org, owner_client):
    first, second = factories.group(org, [], title="A"), factories.group(org, [], title="B")
    with _spy("delete_group") as spy:
        url = f"/o/{org.slug}/settings/fields/monitoring/{first.uuid}/delete/"
        assert owner_client.post(url).status_code == 302
        api = client_for(issue(org)[1])
        assert api.delete(f"/api/v1/groups/{second.uuid}/").status_code == 204
    assert spy.call_count == 2


def test_set_group_active_door_the_toggle(org, owner_client):
    group = factories.group(org, [])
    with _spy("set_group_active") as spy:
        owner_client.post(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/toggle/")
    spy.assert_called_once()
    assert spy.call_args.kwargs["active"] is False


def test_send_now_doors_the_page_and_dispatch_due_group(org, owner_client):
    group = factories.group(org, [], start_date=dt.date(2027, 1, 1))
    with _spy("send_now") as spy:
        page = owner_client.post(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/send/")
        assert page.status_code == 302 and page["Location"].endswith("/runs/2027-03-01/")
    assert spy.call_count == 1
    with _spy("send_now") as spy:
        call_command("dispatch_due", group=str(group.uuid))
    assert spy.call_count == 1
    [by_page, by_command] = _entries("monitoring.group.sent_now")
    assert by_page.actor == AuditEntry.Actor.MEMBER
    assert by_command.actor == AuditEntry.Actor.SYSTEM
    assert by_command.details["job"] == "dispatch_due"


def test_remind_run_and_export_run_doors_the_run_pages(org, member_client):
    field = factories.field(org, "text")
    factories.contact(org, email="a@example.com")
    group = factories.group(org, [field], start_date=dt.date(2027, 3, 1))
    _run(org, group)
    base = f"/o/{org.slug}/monitoring/groups/{group.uuid}/runs/2027-03-01/"
    with _spy("remind_run") as spy:
        assert member_client.get(base + "remind/").context["plan"].fresh == 1
        assert member_client.post(base + "remind/").status_code == 302
    assert spy.call_count == 1
    with _spy("export_run") as spy:
        response = member_client.get(base + "outstanding.csv")
        b"".join(response.streaming_content)
    assert spy.call_count == 1


def test_export_overview_door_the_compliance_export(org, member_client):
    with _spy("export_overview") as spy:
        response = member_client.get(f"/o/{org.slug}/monitoring/overview.csv?status=expired")
        b"".join(response.streaming_content)
    assert spy.call_count == 1
    [entry] = _entries("monitoring.overview.exported")
    assert entry.details == {"filters": "status=expired"}


@pytest.mark.parametrize("htmx", [True, False])
def test_set_and_clear_expiry_doors_the_popup(org, member, htmx):
    value = _filled_value(org)
    client = Client()
    client.force_login(member)
    url = f"/o/{org.slug}/profiles/{value.profile.uuid}/fields/{value.field.uuid}/monitoring/"
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    with _spy("set_expiry") as set_spy, _spy("clear_expiry") as clear_spy:
        saved = client.post(url, {"expires_on": "2030-01-01", "action": "save"}, **extra)
        cleared = client.post(url, {"action": "clear"}, **extra)
    assert saved.status_code == cleared.status_code == (204 if htmx else 302)
    assert set_spy.call_count == 1 and clear_spy.call_count == 1
    assert [e.user for e in _entries("monitoring.expiry.set")] == [member]


@pytest.mark.parametrize(
    "module",
    ["monitoring.views", "monitoring.management.commands.dispatch_due"],
)
def test_the_doors_of_monitoring_record_no_audit_entry_themselves(module):
    source = inspect.getsource(importlib.import_module(module))
    assert not re.search(r"\b(audit|record_audit)\(", source)


def test_save_group_hands_a_changed_policy_to_its_running_dossiers_and_nothing_else(org, owner):
    from dossiers import actions as dossier_actions
    from dossiers.models import Dossier

    group = factories.group(org, [factories.field(org, "text")])
    factories.contact(org)
    _run(org, group)
    spy = mock.patch.object(dossier_actions, "set_policy", wraps=dossier_actions.set_policy)
    with scope(organization=org), spy as handed:
        group.title = "Renamed"
        actions.save_group(group, actor=Actor.member(owner))
        assert handed.call_count == 0  # the policy did not change: no dossier is touched
        group.review_required, group.remind_before = True, [5]
        actions.save_group(group, actor=Actor.member(owner))
        assert handed.call_count == 1
        dossier = Dossier.objects.get()
    assert (dossier.review_required, dossier.remind_after, dossier.remind_before) == (
        True,
        [3, 10],
        [5],
    )
    # One entry for each save: the group's, which says what changed.
    assert len(_entries("monitoring.group.updated")) == 2


def test_only_staff_or_the_system_change_a_dossiers_policy(org):
    from dossiers import actions as dossier_actions
    from dossiers.models import RequestPolicy

    with pytest.raises(ValueError):
        dossier_actions.set_policy(
            organization=org,
            update_group_id=1,
            policy=RequestPolicy(),
            actor=Actor.of_client(factories.contact(org)),
        )
