"""Trigger events: a change of a trigger field, through every door, makes the profile due for
the group at once; never its own write-back; loops refused; a daily limit that spills."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
from django.core.exceptions import ValidationError
from django.test import TestCase
from django.utils import translation
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier
from monitoring import actions, triggers
from monitoring.models import GroupTrigger, TriggeredRequest, UpdateGroup
from organizations.actors import Actor
from profiles.models import FieldValueHistory, Source
from profiles.services import NewValue, apply_values
from tests import factories
from tests.api.conftest import client_for, issue

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# A Monday morning in Paris; the dispatcher passes every minute.
MORNING = dt.datetime(2027, 3, 1, 9, 0, tzinfo=PARIS)


@pytest.fixture
def clock(time_machine):
    time_machine.move_to(MORNING, tick=False)
    return time_machine


@pytest.fixture
def setup(org, owner, clock):
    """ "Adresse" belongs to the group "Adresses"; "Justificatif" to "KYC", which the address
    triggers."""
    address = factories.field(org, "text", label="Adresse")
    proof = factories.field(org, "text", label="Justificatif")
    addresses = factories.group(org, [address], title="Adresses")
    kyc = factories.group(org, [proof], title="KYC")
    with scope(organization=org):
        actions.save_group(kyc, actor=Actor.member(owner), triggers=[address])
    jane = factories.contact(org, email="jane@example.com")
    with scope(organization=org):
        apply_values(jane, [NewValue(address, "1 rue de Paris")], source=Source.STAFF)
    # Setting the first address triggered already: start from a clean slate.
    with scopes_disabled():
        TriggeredRequest.objects.all().delete()
    return {
        "address": address,
        "proof": proof,
        "addresses": addresses,
        "kyc": kyc,
        "jane": jane,
    }


def _waiting(group=None) -> list[tuple[int, str]]:
    with scopes_disabled():
        rows = TriggeredRequest.objects.filter(opened_at__isnull=True)
        if group is not None:
            rows = rows.filter(group=group)
        return list(rows.order_by("changed_at", "id").values_list("profile_id", "source"))


def _opened(group) -> list[tuple[int, dt.date]]:
    with scopes_disabled():
        return list(
            Dossier.objects.filter(update_group=group)
            .order_by("id")
            .values_list("profile_id", "period")
        )


def _pass(now=None) -> int:
    with TestCase.captureOnCommitCallbacks(execute=True):
        return triggers.dispatch_triggered(now)


# Every door


def test_the_staff_form_triggers_and_one_pass_opens_the_request(setup, member_client, org):
    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    response = member_client.post(
        f"/o/{org.slug}/profiles/{jane.uuid}/values/",
        {f"f_{address.uuid.hex}": "2 avenue de Lyon"},
    )
    assert response.status_code == 302
    assert _waiting(kyc) == [(jane.pk, Source.STAFF)]
    assert _pass() == 1
    # The period of a triggered request is the profile's local due day.
    assert _opened(kyc) == [(jane.pk, dt.date(2027, 3, 1))]
    assert _waiting() == []
    # Its own group's fields are asked, not the trigger.
    with scopes_disabled():
        dossier = Dossier.objects.get(update_group=kyc)
        assert [item.field_id for item in dossier.items.all()] == [setup["proof"].pk]
    assert _pass() == 0


def test_the_api_values_trigger(setup, org):
    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    response = client_for(issue(org)[1]).patch(
        f"/api/v1/profiles/{jane.uuid}/values/",
        json.dumps({"values": [{"field": str(address.uuid), "value": "3 quai Est"}]}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert _waiting(kyc) == [(jane.pk, Source.API)]


def test_the_api_upsert_triggers(setup, org):
    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    with scopes_disabled():
        type(jane).objects.filter(pk=jane.pk).update(external_reference="C1")
    response = client_for(issue(org)[1]).post(
        "/api/v1/profiles/upsert/",
        json.dumps(
            {
                "kind": "contact",
                "rows": [
                    {
                        "reference": "C1",
                        "identity": {"last_name": "Doe", "email": "jane@example.com"},
                        "values": [{"field": str(address.uuid), "value": "4 place Nord"}],
                    }
                ],
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert _waiting(kyc) == [(jane.pk, Source.API)]


def test_an_import_triggers(setup, member_client, org):
    from tests.imports.test_import import _import

    kyc, jane = setup["kyc"], setup["jane"]
    _import(member_client, org, b"Last name,E-mail,Adresse\r\nDoe,jane@example.com,5 rue Sud\r\n")
    assert _waiting(kyc) == [(jane.pk, Source.IMPORT)]
    # An import that leaves the address as it is triggers nothing more.
    with scopes_disabled():
        TriggeredRequest.objects.all().delete()
    _import(member_client, org, b"Last name,E-mail,Adresse\r\nDoe,jane@example.com,5 rue Sud\r\n")
    assert _waiting() == []


def test_another_groups_write_back_triggers(setup, client, org):
    address, addresses, kyc, jane = (setup[k] for k in ("address", "addresses", "kyc", "jane"))
    dossier = factories.dossier(
        org,
        jane,
        [address],
        kind=Dossier.Kind.UPDATE,
        update_group_id=addresses.pk,
        period=dt.date(2027, 3, 1),
    )
    response = client.post(
        f"/d/{factories.token(dossier)}/",
        {f"f_{address.uuid.hex}": "6 rue Ouest", "action": "submit"},
    )
    assert response.status_code == 302
    assert _waiting(kyc) == [(jane.pk, Source.DOSSIER)]


def test_a_restore_triggers(setup, member_client, org, owner):
    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    with scope(organization=org):
        apply_values(jane, [NewValue(address, "7 rue Haute")], source=Source.STAFF, user=owner)
        TriggeredRequest.objects.all().delete()
        mistake = FieldValueHistory.objects.filter(profile=jane, field=address).first()
    response = member_client.post(
        f"/o/{org.slug}/profiles/{jane.uuid}/history/{mistake.pk}/restore/"
    )
    assert response.status_code == 302
    assert _waiting(kyc) == [(jane.pk, Source.STAFF)]


def test_the_groups_own_write_back_does_not_trigger_it(setup, client, org, owner):
    """A field asked by a dossier of KYC, since made one of KYC's triggers: the answer is
    the group's own, and asks nothing again; "Adresses", which it triggers too, is asked."""
    address, kyc, jane, addresses = (setup[k] for k in ("address", "kyc", "jane", "addresses"))
    dossier = factories.dossier(
        org, jane, [address], kind=Dossier.Kind.UPDATE, update_group_id=kyc.pk, period=MORNING
    )
    other = factories.field(org, "text", label="Autre")
    with scope(organization=org):
        actions.save_group(addresses, actor=Actor.member(owner), fields=[other])
        actions.save_group(addresses, actor=Actor.member(owner), fields=[other], triggers=[address])
    response = client.post(
        f"/d/{factories.token(dossier)}/",
        {f"f_{address.uuid.hex}": "8 rue Basse", "action": "submit"},
    )
    assert response.status_code == 302
    with scopes_disabled():
        assert FieldValueHistory.objects.filter(source=Source.DOSSIER).exists()
    assert _waiting(kyc) == []
    assert _waiting(addresses) == [(jane.pk, Source.DOSSIER)]


def test_a_request_of_the_group_already_open_absorbs_the_change(setup, member_client, org):
    address, kyc, jane, proof = (setup[k] for k in ("address", "kyc", "jane", "proof"))
    factories.dossier(
        org, jane, [proof], kind=Dossier.Kind.UPDATE, update_group_id=kyc.pk, period=MORNING
    )
    member_client.post(
        f"/o/{org.slug}/profiles/{jane.uuid}/values/", {f"f_{address.uuid.hex}": "9 rue"}
    )
    assert _waiting(kyc) == []


def test_a_confirmation_or_an_unchanged_value_triggers_nothing(setup, member_client, org):
    address, jane = setup["address"], setup["jane"]
    member_client.post(
        f"/o/{org.slug}/profiles/{jane.uuid}/values/",
        {f"f_{address.uuid.hex}": "1 rue de Paris"},
    )
    assert _waiting() == []


def test_a_rolled_back_write_leaves_no_trigger(setup, org):
    address, jane = setup["address"], setup["jane"]
    with pytest.raises(RuntimeError), scope(organization=org):
        from django.db import transaction

        with transaction.atomic():
            apply_values(jane, [NewValue(address, "10 rue")], source=Source.STAFF)
            raise RuntimeError
    assert _waiting() == []


def test_a_paused_group_is_not_triggered(setup, member_client, org, owner):
    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    with scope(organization=org):
        actions.set_group_active(kyc, actor=Actor.member(owner), active=False)
    member_client.post(
        f"/o/{org.slug}/profiles/{jane.uuid}/values/", {f"f_{address.uuid.hex}": "11 rue"}
    )
    assert _waiting() == []


# The reason, on the dossier and in the history


def test_the_dossier_and_the_history_say_which_change_triggered_it(setup, member_client, org):
    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    member_client.post(
        f"/o/{org.slug}/profiles/{jane.uuid}/values/", {f"f_{address.uuid.hex}": "12 rue"}
    )
    history = member_client.get(f"/o/{org.slug}/profiles/{jane.uuid}/history/").content.decode()
    assert "Update to request: KYC (waiting for the daily limit)" in history
    _pass()
    with scopes_disabled():
        dossier = Dossier.objects.get(update_group=kyc)
    page = member_client.get(f"/o/{org.slug}/dossiers/{dossier.uuid}/").content.decode()
    assert "Requested because Adresse changed on 01/03/2027" in page
    history = member_client.get(f"/o/{org.slug}/profiles/{jane.uuid}/history/").content.decode()
    assert "Requested an update: KYC, on 01/03/2027" in history
    with translation.override("fr"):
        page = member_client.get(
            f"/o/{org.slug}/dossiers/{dossier.uuid}/", HTTP_ACCEPT_LANGUAGE="fr"
        ).content.decode()
    assert "Demandé car Adresse a changé le 01/03/2027" in page


# Loops


def test_a_groups_own_field_as_trigger_is_refused(setup, org, owner):
    kyc, proof = setup["kyc"], setup["proof"]
    with pytest.raises(ValidationError) as refused, scope(organization=org):
        actions.save_group(kyc, actor=Actor.member(owner), triggers=[proof])
    assert "one of this group's own fields" in refused.value.message_dict["trigger_fields"][0]


def test_a_loop_between_two_groups_is_refused_in_the_form_in_both_languages(
    setup, owner_client, org
):
    addresses, proof, address = setup["addresses"], setup["proof"], setup["address"]
    form = {
        "title": "Adresses",
        "applies_to": "contact",
        "start_date": "2024-01-31",
        "frequency": "1-months",
        "interval_unit": "months",
        "fields": [address.pk],
        "trigger_fields": [proof.pk],
        "trigger_daily_limit": "50",
    }
    url = f"/o/{org.slug}/settings/fields/monitoring/{addresses.uuid}/edit/"
    english = owner_client.post(url, form, HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200
    [error] = english.context["form"].errors["trigger_fields"]
    assert "would form a loop between groups (Adresses → KYC → Adresses)" in error
    french = owner_client.post(url, form, HTTP_ACCEPT_LANGUAGE="fr")
    [error] = french.context["form"].errors["trigger_fields"]
    assert "formeraient une boucle entre groupes (Adresses → KYC → Adresses)" in error
    with scopes_disabled():
        assert not GroupTrigger.objects.filter(group=addresses).exists()
        assert UpdateGroup.objects.get(pk=addresses.pk).trigger_daily_limit == 500


def test_a_longer_loop_is_refused_and_closing_it_through_the_own_fields_too(setup, org, owner):
    address, proof, kyc = setup["address"], setup["proof"], setup["kyc"]
    income = factories.field(org, "number", label="Revenu")
    third = factories.group(org, [income], title="Revenus")
    member = Actor.member(owner)
    with scope(organization=org):
        # KYC's proof triggers "Revenus": Adresses → KYC → Revenus, no loop yet.
        actions.save_group(third, actor=member, triggers=[proof])
        with pytest.raises(ValidationError) as refused:
            actions.save_group(setup["addresses"], actor=member, triggers=[income])
        assert "Adresses → KYC → Revenus → Adresses" in str(refused.value)
        # "Revenus" taking the address as its own field closes Revenus → KYC → Revenus.
        with pytest.raises(ValidationError):
            actions.save_group(setup["addresses"], actor=member, fields=[])
            actions.save_group(third, actor=member, fields=[income, address])
    with scopes_disabled():
        assert set(GroupTrigger.objects.values_list("group_id", "field_id")) == {
            (kyc.pk, address.pk),
            (third.pk, proof.pk),
        }


def test_the_api_sets_and_reads_the_triggers_and_refuses_a_loop(setup, org):
    api = client_for(issue(org)[1])
    addresses, kyc, proof, address = (setup[k] for k in ("addresses", "kyc", "proof", "address"))
    read = api.get(f"/api/v1/groups/{kyc.uuid}/").json()
    assert read["trigger_fields"] == [str(address.uuid)]
    assert read["trigger_daily_limit"] == 500
    changed = api.patch(
        f"/api/v1/groups/{kyc.uuid}/",
        json.dumps({"trigger_daily_limit": 20}),
        content_type="application/json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["trigger_fields"] == [str(address.uuid)]
    loop = api.patch(
        f"/api/v1/groups/{addresses.uuid}/",
        json.dumps({"trigger_fields": [str(proof.uuid)]}),
        content_type="application/json",
    )
    assert loop.status_code == 400
    assert loop.json()["errors"][0]["attr"] == "trigger_fields"
    for bad in (0, -1, 100_001, "many"):
        refused = api.patch(
            f"/api/v1/groups/{kyc.uuid}/",
            json.dumps({"trigger_daily_limit": bad}),
            content_type="application/json",
        )
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["attr"] == "trigger_daily_limit"
    with scopes_disabled():
        assert UpdateGroup.objects.get(pk=kyc.pk).trigger_daily_limit == 20


# The daily limit


def _change_addresses(org, profiles, at):
    with scope(organization=org):
        for i, profile in enumerate(profiles):
            with time_at(at + dt.timedelta(minutes=i)):
                apply_values(profile, [NewValue(profile_address(org), f"{i} rue")], source="staff")


def time_at(moment):
    import time_machine

    return time_machine.travel(moment, tick=False)


def profile_address(org):
    with scopes_disabled():
        return GroupTrigger.objects.get(group__title="KYC").field


def test_beyond_the_daily_limit_requests_spill_to_the_next_days_oldest_first(
    setup, org, owner, owner_client, clock
):
    kyc = setup["kyc"]
    with scope(organization=org):
        kyc.trigger_daily_limit = 2
        actions.save_group(kyc, actor=Actor.member(owner))
    clients = [factories.contact(org, email=f"c{i}@example.com") for i in range(5)]
    # Changed in this order over the evening before (the newest first in the list).
    evening = dt.datetime(2027, 2, 28, 20, 0, tzinfo=PARIS)
    _change_addresses(org, list(reversed(clients)), evening)
    oldest_first = [p.pk for p in reversed(clients)]
    assert [p for p, _s in _waiting(kyc)] == oldest_first
    page = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{kyc.uuid}/")
    assert page.context["backlog"]["waiting"] == 5
    assert "5 requests waiting" in page.content.decode()
    assert "sent within 3 days at the daily limit" in page.content.decode()

    assert _pass(MORNING) == 2
    # Passes later the same day open nothing more.
    assert _pass(MORNING + dt.timedelta(hours=10)) == 0
    tuesday = MORNING + dt.timedelta(days=1)
    assert _pass(tuesday) == 2
    assert _pass(tuesday + dt.timedelta(days=1)) == 1
    by_day: dict[dt.date, set[int]] = {}
    for profile_id, day in _opened(kyc):
        by_day.setdefault(day, set()).add(profile_id)
    assert by_day == {
        dt.date(2027, 3, 1): set(oldest_first[:2]),
        dt.date(2027, 3, 2): set(oldest_first[2:4]),
        dt.date(2027, 3, 3): set(oldest_first[4:]),
    }


def test_the_day_is_the_organisations_local_day(setup, org, owner):
    """23:30 UTC on 31 December is already 1 January in Paris: a new day, a new allowance."""
    kyc = setup["kyc"]
    with scope(organization=org):
        kyc.trigger_daily_limit = 1
        actions.save_group(kyc, actor=Actor.member(owner))
    clients = [factories.contact(org, email=f"y{i}@example.com") for i in range(2)]
    _change_addresses(org, clients, dt.datetime(2027, 12, 31, 12, 0, tzinfo=dt.UTC))
    assert _pass(dt.datetime(2027, 12, 31, 22, 30, tzinfo=dt.UTC)) == 1
    assert _pass(dt.datetime(2027, 12, 31, 23, 30, tzinfo=dt.UTC)) == 1
    assert [day for _p, day in _opened(kyc)] == [dt.date(2027, 12, 31), dt.date(2028, 1, 1)]


def test_a_dispatcher_down_a_week_opens_one_request_each_not_a_storm(setup, org):
    kyc = setup["kyc"]
    clients = [factories.contact(org, email=f"w{i}@example.com") for i in range(3)]
    week_ago = MORNING - dt.timedelta(days=7)
    # Each address changed once a day for the week the dispatcher was down.
    for day in range(7):
        _change_addresses(org, clients, week_ago + dt.timedelta(days=day))
    assert len(_waiting(kyc)) == 3
    assert _pass(MORNING) == 3
    assert sorted(p for p, _day in _opened(kyc)) == sorted(c.pk for c in clients)
    assert _pass(MORNING + dt.timedelta(minutes=1)) == 0
    # The reason kept is the first change, the one that made each due.
    with scopes_disabled():
        assert {t.changed_at for t in TriggeredRequest.objects.all()} == {
            week_ago + dt.timedelta(minutes=i) for i in range(3)
        }


def test_the_beat_task_serves_the_triggers_in_the_same_pass(setup, member_client, org):
    from monitoring.tasks import dispatch_due_groups

    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    member_client.post(
        f"/o/{org.slug}/profiles/{jane.uuid}/values/", {f"f_{address.uuid.hex}": "13 rue"}
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        dispatch_due_groups()
    assert [p for p, _day in _opened(kyc)] == [jane.pk]


def test_a_request_covered_meanwhile_or_an_archived_profile_leaves_the_backlog(setup, org, owner):
    kyc, proof = setup["kyc"], setup["proof"]
    a, b = (factories.contact(org, email=f"z{i}@example.com") for i in range(2))
    _change_addresses(org, [a, b], MORNING - dt.timedelta(hours=1))
    factories.dossier(
        org, a, [proof], kind=Dossier.Kind.UPDATE, update_group_id=kyc.pk, period=MORNING
    )
    from profiles.actions import archive_profile

    with scope(organization=org):
        archive_profile(b, actor=Actor.member(owner))
    assert _pass() == 0
    assert _waiting() == []


def test_a_profile_answered_today_is_asked_again_tomorrow(setup, org, member_client):
    """One dossier per (group, period, profile): a second change on the day of an answered
    triggered request waits for the next day."""
    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    url = f"/o/{org.slug}/profiles/{jane.uuid}/values/"
    member_client.post(url, {f"f_{address.uuid.hex}": "14 rue"})
    _pass()
    with scopes_disabled():
        Dossier.objects.filter(update_group=kyc).update(status=Dossier.Status.APPROVED)
    member_client.post(url, {f"f_{address.uuid.hex}": "15 rue"})
    assert _pass() == 0
    assert _pass(MORNING + dt.timedelta(days=1)) == 1
    assert [day for _p, day in _opened(kyc)] == [dt.date(2027, 3, 1), dt.date(2027, 3, 2)]


def test_an_import_is_heard_by_the_webhooks_and_the_triggers_alike(setup, member_client, org):
    """Each receiver of a batch reads its rows: the first one read leaves them to the next."""
    from api.models import WebhookDelivery, WebhookEndpoint
    from tests.imports.test_import import _import

    kyc, jane = setup["kyc"], setup["jane"]
    with scopes_disabled():
        WebhookEndpoint.objects.create(
            organization=org, url="https://hooks.example.com/", events=["value.changed"]
        )
    _import(member_client, org, b"Last name,E-mail,Adresse\r\nDoe,jane@example.com,5 rue Sud\r\n")
    assert _waiting(kyc) == [(jane.pk, Source.IMPORT)]
    with scopes_disabled():
        [delivery] = WebhookDelivery.objects.all()
        assert "5 rue Sud" in json.dumps(delivery.body)


def test_the_audit_log_names_the_triggers_and_the_limit(setup, owner_client, org):
    page = owner_client.get(f"/o/{org.slug}/settings/audit/", HTTP_ACCEPT_LANGUAGE="en")
    assert "triggered by Adresse, at most 500 a day" in page.content.decode()


@pytest.mark.parametrize("limit", ["0", "-3", "100001", "beaucoup", "1e3"])
def test_the_form_refuses_a_bad_daily_limit_in_both_languages_and_saves_nothing(
    setup, owner_client, org, limit
):
    kyc, proof, address = setup["kyc"], setup["proof"], setup["address"]
    form = {
        "title": "KYC",
        "applies_to": "contact",
        "start_date": "2024-01-31",
        "frequency": "1-months",
        "interval_unit": "months",
        "fields": [proof.pk],
        "trigger_fields": [],
        "trigger_daily_limit": limit,
    }
    url = f"/o/{org.slug}/settings/fields/monitoring/{kyc.uuid}/edit/"
    for language in ("en", "fr"):
        page = owner_client.post(url, form, HTTP_ACCEPT_LANGUAGE=language)
        assert page.status_code == 200
        assert page.context["form"].errors["trigger_daily_limit"]
        # What was typed is shown again.
        assert f'value="{limit}"' in page.content.decode()
    with scopes_disabled():
        assert list(GroupTrigger.objects.filter(group=kyc).values_list("field_id", flat=True)) == [
            address.pk
        ]


def test_the_api_refuses_a_trigger_of_the_other_type_or_organisation(setup, org, other_org):
    api = client_for(issue(org)[1])
    kyc = setup["kyc"]
    register = factories.field(org, "text", applies_to="company", label="Registre")
    theirs = factories.field(other_org, "text", label="Leur adresse")
    for field in (register, theirs):
        refused = api.patch(
            f"/api/v1/groups/{kyc.uuid}/",
            json.dumps({"trigger_fields": [str(field.uuid)]}),
            content_type="application/json",
        )
        assert refused.status_code == 400, refused.content
        assert refused.json()["errors"][0]["attr"].startswith("trigger_fields")
    with scopes_disabled():
        assert GroupTrigger.objects.filter(group=kyc).count() == 1


def test_the_form_lists_the_fields_of_the_groups_type_as_triggers(setup, owner_client, org):
    factories.field(org, "text", applies_to="company", label="Registre")
    kyc = setup["kyc"]
    page = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{kyc.uuid}/edit/")
    triggers = page.context["form"]["trigger_fields"]
    shown = [
        option.data["label"] for option in triggers.subwidgets if option.data.get("shown", True)
    ]
    assert shown == ["Adresse", "Justificatif"]
    assert [str(v) for v in triggers.value()] == [str(setup["address"].pk)]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_at_once_keep_the_daily_limit_and_open_each_once(setup, org, owner):
    import threading

    from django.db import connection, connections

    from tests.conftest import need_service

    need_service(connection.vendor == "postgresql", "PostgreSQL")
    kyc = setup["kyc"]
    with scope(organization=org):
        kyc.trigger_daily_limit = 3
        actions.save_group(kyc, actor=Actor.member(owner))
    clients = [factories.contact(org, email=f"t{i}@example.com") for i in range(6)]
    _change_addresses(org, clients, MORNING - dt.timedelta(hours=2))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            triggers.dispatch_triggered(MORNING)
        except BaseException as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    opened = _opened(kyc)
    assert len(opened) == len({p for p, _day in opened}) == 3
    assert len(_waiting(kyc)) == 3


def test_the_openapi_schema_documents_the_triggers_and_the_limit(client, db):
    schema = client.get("/api/v1/schema/?format=json").json()
    group = schema["components"]["schemas"]["UpdateGroup"]["properties"]
    assert "trigger_daily_limit" in group["trigger_fields"]["description"]
    assert group["trigger_fields"]["items"]["format"] == "uuid"
    assert (group["trigger_daily_limit"]["minimum"], group["trigger_daily_limit"]["maximum"]) == (
        1,
        100_000,
    )
    assert "oldest first" in group["trigger_daily_limit"]["description"]


def test_a_triggered_request_follows_the_groups_review(setup, member_client, org):
    """A triggered request is one of the group's: its answer waits for the staff review the
    group requires, like the requests of its schedule."""
    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    factories.set_review(kyc)
    member_client.post(
        f"/o/{org.slug}/profiles/{jane.uuid}/values/", {f"f_{address.uuid.hex}": "16 rue"}
    )
    assert _pass() == 1
    with scopes_disabled():
        dossier = Dossier.objects.get(update_group=kyc)
    assert dossier.review_required is True


def test_a_change_outside_the_groups_audience_opens_nothing(setup, org, owner):
    """The audience decides who a group asks, its triggers included."""
    address, jane = setup["address"], setup["jane"]
    risk = factories.field(org, "choice", label="Risque", choices=["High", "Low"])
    kyc = factories.group(
        org,
        [factories.field(org, "text", label="Pièce")],
        title="KYC risqué",
        audience=[{"field": str(risk.uuid), "op": "eq", "value": "High"}],
    )
    with scope(organization=org):
        actions.save_group(kyc, actor=Actor.member(owner), triggers=[address])
    john = factories.contact(org, email="john@example.com")
    with scope(organization=org):
        apply_values(
            john, [NewValue(risk, "High"), NewValue(address, "1 rue")], source=Source.STAFF
        )
        for profile, value in ((jane, "17 rue"), (john, "18 rue")):
            apply_values(profile, [NewValue(address, value)], source=Source.STAFF)
    assert {p for p, _source in _waiting(kyc)} == {jane.pk, john.pk}
    _pass()
    # Jane, outside the audience, leaves the backlog without a request.
    assert [p for p, _day in _opened(kyc)] == [john.pk]
    assert _waiting(kyc) == []


def test_a_triggered_request_of_a_rolling_group_counts_as_asked(org, time_machine):
    """The rolling schedule starts again from a triggered request: the profile is not asked
    again on the day it was due before."""
    from monitoring import rolling
    from monitoring.models import Cadence, ProfileSchedule

    start = dt.datetime(2026, 3, 14, 9, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    address = factories.field(org, "text", label="Adresse")
    proof = factories.field(org, "text", label="Justificatif")
    jane = factories.contact(org, email="jane@example.com")
    with scope(organization=org):
        apply_values(jane, [NewValue(address, "1 rue")], source=Source.STAFF)
    group = UpdateGroup(
        organization=org,
        title="KYC",
        applies_to="contact",
        start_date=dt.date(2026, 1, 1),
        interval_count=1,
        interval_unit="months",
        cadence=Cadence.ROLLING,
    )
    group.schedule_from()
    with scope(organization=org):
        actions.save_group(group, actor=Actor.system("test"), fields=[proof], triggers=[address])
    with scopes_disabled():
        assert ProfileSchedule.objects.get(group=group).due_on == dt.date(2026, 4, 14)
    time_machine.move_to(dt.datetime(2026, 4, 10, 9, tzinfo=dt.UTC), tick=False)
    with scope(organization=org):
        apply_values(jane, [NewValue(address, "2 rue")], source=Source.STAFF)
    assert _pass() == 1
    with scopes_disabled():
        Dossier.objects.filter(update_group=group).update(status=Dossier.Status.APPROVED)
        row = ProfileSchedule.objects.get(group=group)
    assert (row.asked_on, row.due_on) == (dt.date(2026, 4, 10), dt.date(2026, 5, 10))
    later = dt.datetime(2026, 4, 15, 9, tzinfo=dt.UTC)
    time_machine.move_to(later, tick=False)
    with TestCase.captureOnCommitCallbacks(execute=True):
        rolling.dispatch_due(now=later)
    assert _opened(group) == [(jane.pk, dt.date(2026, 4, 10))]


def test_the_dispatch_command_serves_the_triggers_too(setup, org):
    from io import StringIO

    from django.core.management import call_command

    address, kyc, jane = setup["address"], setup["kyc"], setup["jane"]
    with scope(organization=org):
        apply_values(jane, [NewValue(address, "19 rue")], source=Source.STAFF)
    out = StringIO()
    with TestCase.captureOnCommitCallbacks(execute=True):
        call_command("dispatch_due", stdout=out)
    assert [p for p, _day in _opened(kyc)] == [jane.pk]
    assert "1 triggered request(s) open." in out.getvalue()
