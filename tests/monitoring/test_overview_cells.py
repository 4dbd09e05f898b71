"""The overview's stored cells follow every write that moves a status, through the product's
own paths: after each step they equal a fresh computation (`drift` is zero) and read the
status a compliance lead expects."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dossiers import review
from dossiers.models import Dossier
from dossiers.retention import expire_dossiers, purge_dossiers
from dossiers.submission import save_draft, submit
from monitoring import overview
from monitoring.dispatch import dispatch_group_now, open_run
from monitoring.models import ComplianceCell
from monitoring.services import save_group
from organizations.actors import Actor
from profiles.actions import erase_profile
from profiles.models import FieldValue, Source
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _statuses(org) -> dict[tuple[int, str], str]:
    rows = overview.page(org.pk, overview.Filters(), timezone.localdate(), offset=0, limit=500)
    return {(row["profile_id"], row["field_label"]): row["status"] for row in rows}


def _steady(org) -> dict[tuple[int, str], str]:
    assert overview.drift(org.pk) == 0
    return _statuses(org)


@pytest.fixture
def kyc(org):
    address = factories.field(org, "text", label="Address")
    job = factories.field(org, "text", label="Job")
    group = factories.group(org, [address, job], start_date=timezone.localdate())
    ann = factories.contact(org, last_name="Ann", email="ann@example.com")
    bob = factories.contact(org, last_name="Bob", email="bob@example.com")
    with scopes_disabled():
        FieldValue.objects.create(organization=org, profile=ann, field=address, value="1 Road")
    return {"group": group, "address": address, "job": job, "ann": ann, "bob": bob}


def test_new_profiles_fields_and_values_have_their_cells(org, kyc):
    ann, bob = kyc["ann"], kyc["bob"]
    assert _steady(org) == {
        (ann.pk, "Address"): "valid",
        (ann.pk, "Job"): "missing",
        (bob.pk, "Address"): "missing",
        (bob.pk, "Job"): "missing",
    }
    with scope(organization=org):
        apply_values(
            bob,
            [NewValue(kyc["address"], "2 Lane")],
            source=Source.STAFF,
            evidence=lambda field: timezone.localdate() - dt.timedelta(days=1),
        )
    assert _steady(org)[(bob.pk, "Address")] == "expired"


def test_a_run_opens_requests_that_answers_and_decisions_close(org, kyc, member):
    group, ann = kyc["group"], kyc["ann"]
    with scopes_disabled():
        group.review_required = True
        group.save(update_fields=["review_required"])
    open_run(dispatch_group_now(group.pk, fan_out=False))
    assert set(_steady(org).values()) == {"requested"}
    with scopes_disabled():
        dossier = Dossier.objects.get(profile=ann)
        items = {item.field.label: item for item in dossier.items.select_related("field")}
        save_draft(
            dossier,
            {items["Job"].pk: "Baker", items["Address"].pk: "1 Road"},
            {},
            {items["Address"].pk: True},
            recipient=ann,
        )
        submit(Dossier.objects.get(pk=dossier.pk), ann)
        assert _steady(org)[(ann.pk, "Job")] == "requested"  # awaiting staff
        review.approve(Dossier.objects.get(pk=dossier.pk), [items["Address"].pk], member)
        review.reject(Dossier.objects.get(pk=dossier.pk), items["Job"].pk, "Unreadable", member)
        assert Dossier.objects.get(pk=dossier.pk).status == "changes_requested"
        assert _steady(org)[(ann.pk, "Job")] == "requested"  # back with the client
    with scopes_disabled():
        expire_dossiers(timezone.now() + dt.timedelta(days=60))
    statuses = _steady(org)
    assert statuses[(ann.pk, "Job")] == "overdue"
    assert statuses[(ann.pk, "Address")] == "valid"  # confirmed and approved in time
    assert statuses[(kyc["bob"].pk, "Address")] == "overdue"


def test_approval_writes_fresh_values_that_the_cells_show(org, kyc, member):
    group, bob = kyc["group"], kyc["bob"]
    with scopes_disabled():
        group.review_required = True
        group.save(update_fields=["review_required"])
    open_run(dispatch_group_now(group.pk, fan_out=False))
    with scopes_disabled():
        dossier = Dossier.objects.get(profile=bob)
        items = {item.field.label: item for item in dossier.items.select_related("field")}
        save_draft(
            dossier, {items["Job"].pk: "Baker", items["Address"].pk: "3 Street"}, {}, recipient=bob
        )
        submit(Dossier.objects.get(pk=dossier.pk), bob)
        review.approve(Dossier.objects.get(pk=dossier.pk), None, member)
    statuses = _steady(org)
    assert statuses[(bob.pk, "Job")] == "valid"
    assert statuses[(bob.pk, "Address")] == "valid"


def test_the_purge_and_an_erasure_leave_the_cells_true(org, kyc, member):
    open_run(dispatch_group_now(kyc["group"].pk, fan_out=False))
    with scopes_disabled():
        expire_dossiers(timezone.now() + dt.timedelta(days=60))
        assert _steady(org)[(kyc["ann"].pk, "Job")] == "overdue"
        Dossier.objects.update(created_at=timezone.now() - dt.timedelta(days=90))
        assert purge_dossiers(timezone.now() + dt.timedelta(days=90)) == 2
    # The unanswered request is gone with its dossier: what is left is the value itself.
    assert _steady(org)[(kyc["ann"].pk, "Job")] == "missing"
    with scope(organization=org):
        erase_profile(kyc["bob"], actor=Actor.member(member))
    assert {profile for profile, _ in _steady(org)} == {kyc["ann"].pk}


def test_archiving_a_profile_or_a_field_and_regrouping_fields_move_the_cells(org, kyc):
    ann, bob = kyc["ann"], kyc["bob"]
    with scopes_disabled():
        bob.archived_at = timezone.now()
        bob.save()
        assert {profile for profile, _ in _steady(org)} == {ann.pk}
        bob.archived_at = None
        bob.save()
        kyc["job"].archived_at = timezone.now()
        kyc["job"].save()
        assert {label for _, label in _steady(org)} == {"Address"}
        save_group(kyc["group"], [kyc["job"]], schedule_changed=False)
        kyc["job"].archived_at = None
        kyc["job"].save()
        assert {label for _, label in _steady(org)} == {"Job"}
        assert ComplianceCell.objects.filter(field=kyc["address"]).count() == 0
        kyc["group"].delete()
    assert _steady(org) == {}


def test_the_expiry_pop_up_moves_the_cell(member_client, org, kyc):
    ann, address = kyc["ann"], kyc["address"]
    url = f"/o/{org.slug}/profiles/{ann.uuid}/fields/{address.uuid}/monitoring/"
    past = (timezone.localdate() - dt.timedelta(days=3)).isoformat()
    assert member_client.post(url, {"expires_on": past}).status_code in (200, 302)
    assert _steady(org)[(ann.pk, "Address")] == "expired"


def test_a_rebuild_finds_and_mends_stale_cells(org, kyc):
    with scopes_disabled():
        ComplianceCell.objects.filter(profile=kyc["ann"]).update(has_value=False)
        ComplianceCell.objects.filter(profile=kyc["bob"]).delete()
    assert overview.drift(org.pk) == 4
    assert overview.rebuild(org.pk) == 4
    assert overview.drift(org.pk) == 0
    assert overview.rebuild(org.pk) == 0


def test_one_profile_refreshes_in_a_fixed_number_of_queries(org, kyc, django_assert_num_queries):
    # Which groups narrow their audience (none here), the upsert and the deletion.
    with django_assert_num_queries(3):
        overview.refresh(org.pk, profile_ids=[kyc["ann"].pk, kyc["bob"].pk])


def test_cached_counts_follow_each_committed_write(org, kyc, django_capture_on_commit_callbacks):
    today = timezone.localdate()
    assert overview.counts(org.pk, overview.Filters(), today)["missing"] == 3
    with django_capture_on_commit_callbacks(execute=True), scope(organization=org):
        apply_values(kyc["bob"], [NewValue(kyc["job"], "Baker")], source=Source.STAFF)
    assert overview.counts(org.pk, overview.Filters(), today)["missing"] == 2  # now cached
    with django_capture_on_commit_callbacks(execute=True), scope(organization=org):
        apply_values(kyc["bob"], [NewValue(kyc["address"], "2 Lane")], source=Source.STAFF)
    assert overview.counts(org.pk, overview.Filters(), today)["missing"] == 1


def test_a_run_over_requests_already_running_keeps_the_cells_true(org, kyc):
    ann, bob = kyc["ann"], kyc["bob"]
    later = timezone.now() + dt.timedelta(days=200)
    factories.dossier(org, ann, [kyc["address"]], expires_at=later)  # ends after the run's
    reviewing = factories.dossier(org, bob, [kyc["job"]])
    unanswered = factories.dossier(org, ann, [kyc["job"]])
    with scopes_disabled():
        Dossier.objects.filter(pk=reviewing.pk).update(status="to_review")
        Dossier.objects.filter(pk=unanswered.pk).update(
            status="expired", created_at=timezone.now() - dt.timedelta(days=40)
        )
    overview.refresh(org.pk)
    assert _steady(org)[(ann.pk, "Job")] == "overdue"
    open_run(dispatch_group_now(kyc["group"].pk, fan_out=False))
    assert set(_steady(org).values()) == {"requested"}
    rows = overview.page(org.pk, overview.Filters(), timezone.localdate(), offset=0, limit=50)
    links = {(row["profile_id"], row["field_label"]): row["open_dossier"] for row in rows}
    assert links[(bob.pk, "Job")] == str(reviewing.uuid)  # awaiting staff: still the link


def test_an_approved_item_is_not_requested_when_another_is_sent_back(org, kyc, member):
    group, ann = kyc["group"], kyc["ann"]
    with scopes_disabled():
        group.review_required = True
        group.save(update_fields=["review_required"])
    open_run(dispatch_group_now(group.pk, fan_out=False))
    with scopes_disabled():
        dossier = Dossier.objects.get(profile=ann)
        items = {item.field.label: item for item in dossier.items.select_related("field")}
        save_draft(
            dossier, {items["Job"].pk: "Baker", items["Address"].pk: "2 Lane"}, {}, recipient=ann
        )
        submit(Dossier.objects.get(pk=dossier.pk), ann)
        review.approve(Dossier.objects.get(pk=dossier.pk), [items["Address"].pk], member)
        assert _steady(org)[(ann.pk, "Address")] == "valid"  # approved, while Job waits
        review.reject(Dossier.objects.get(pk=dossier.pk), items["Job"].pk, "Unreadable", member)
        assert Dossier.objects.get(pk=dossier.pk).status == "changes_requested"
    statuses = _steady(org)
    assert statuses[(ann.pk, "Job")] == "requested"  # back with the client
    assert statuses[(ann.pk, "Address")] == "valid", "approved, yet shown as awaiting the client"
    with scopes_disabled():
        save_draft(Dossier.objects.get(pk=dossier.pk), {items["Job"].pk: "Chef"}, {}, recipient=ann)
        submit(Dossier.objects.get(pk=dossier.pk), ann)
    statuses = _steady(org)
    assert statuses[(ann.pk, "Job")] == "requested"  # awaiting staff again
    assert statuses[(ann.pk, "Address")] == "valid"
