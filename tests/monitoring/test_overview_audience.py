"""A group asks only its audience: a profile it leaves out has no cell for its fields, so it
is never missing or overdue for them. The cells follow a profile entering or leaving the
audience, and the group's audience changing, through the writes' own paths."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from monitoring import overview
from monitoring.actions import save_group
from monitoring.models import ComplianceCell
from organizations.actors import Actor
from profiles.models import FieldValue, Source
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _cond(field, value):
    return {"field": str(field.uuid), "op": "eq", "value": value}


@pytest.fixture
def risky(org):
    risk = factories.field(org, "choice", label="Risk", choices=["High", "Low"])
    proof = factories.field(org, "document", label="Proof")
    address = factories.field(org, "text", label="Address")
    high = factories.contact(org, last_name="High")
    low = factories.contact(org, last_name="Low")
    with scopes_disabled():
        FieldValue.objects.create(organization=org, profile=high, field=risk, value="High")
        FieldValue.objects.create(organization=org, profile=low, field=risk, value="Low")
    group = factories.group(org, [proof], title="High risk", audience=[_cond(risk, "High")])
    everyone = factories.group(org, [address], title="Everyone")
    return {"risk": risk, "proof": proof, "address": address, "high": high, "low": low,
            "group": group, "everyone": everyone}  # fmt: skip


def _cells(org) -> set[tuple[str, str]]:
    with scopes_disabled():
        rows = ComplianceCell.objects.filter(organization=org).values_list(
            "profile__last_name", "field__label"
        )
        return set(rows)


def test_a_profile_outside_the_audience_has_no_cell_for_the_group(org, risky):
    assert _cells(org) == {("High", "Proof"), ("High", "Address"), ("Low", "Address")}
    assert overview.drift(org.pk) == 0
    counts = overview.counts(org.pk, overview.Filters(), timezone.localdate())
    assert counts["missing"] == 3


def test_the_matrix_says_not_asked_where_the_audience_leaves_a_profile_out(
    member_client, org, risky
):
    response = member_client.get(f"/o/{org.slug}/monitoring/overview/?view=matrix")
    assert response.status_code == 200
    row = response.text.split(">Jane Low</a>")[1].split("</tr>")[0]
    assert "Not asked of this client" in row
    assert "status-missing" in row  # its address, which the other group asks everyone


def test_a_profile_entering_and_leaving_the_audience_gains_and_loses_its_cells(org, risky):
    low = risky["low"]
    with scope(organization=org):
        apply_values(low, [NewValue(risky["risk"], "High")], source=Source.STAFF)
    assert ("Low", "Proof") in _cells(org)
    assert overview.drift(org.pk) == 0
    with scope(organization=org):
        apply_values(low, [NewValue(risky["risk"], "Low")], source=Source.STAFF)
    assert ("Low", "Proof") not in _cells(org)
    assert ("Low", "Address") in _cells(org)
    assert overview.drift(org.pk) == 0


def test_the_groups_audience_changed_moves_its_cells(org, risky, owner):
    group = risky["group"]
    with scope(organization=org):
        group.audience = [_cond(risky["risk"], "Low")]
        save_group(group, actor=Actor.member(owner))
    assert ("Low", "Proof") in _cells(org)
    assert ("High", "Proof") not in _cells(org)
    assert overview.drift(org.pk) == 0
    with scope(organization=org):
        group.audience = []
        save_group(group, actor=Actor.member(owner))
    assert {("High", "Proof"), ("Low", "Proof")} <= _cells(org)
    assert overview.drift(org.pk) == 0


def test_the_nightly_check_removes_a_cell_outside_the_audience(org, risky):
    with scopes_disabled():
        ComplianceCell.objects.create(
            organization=org,
            profile=risky["low"],
            field=risky["proof"],
            group=risky["group"],
            kind="contact",
        )
    assert overview.drift(org.pk) == 1
    assert overview.rebuild(org.pk) == 1
    assert ("Low", "Proof") not in _cells(org)
    assert overview.drift(org.pk) == 0


def test_a_refresh_costs_one_query_more_with_audiences(org, risky, django_assert_num_queries):
    # The groups' audiences (one query), the fields they name (one), the upsert and the
    # deletion: whatever the number of groups and profiles.
    with django_assert_num_queries(4):
        overview.refresh(org.pk, profile_ids=[risky["high"].pk, risky["low"].pk])


def test_archiving_the_audiences_field_empties_it_at_once_and_restoring_it_refills_it(
    org, risky, owner
):
    from profiles.actions import archive_field, restore_field

    with scope(organization=org):
        archive_field(risky["risk"], actor=Actor.member(owner))
    # A condition on an archived field holds for nobody: the group asks no one.
    assert ("High", "Proof") not in _cells(org)
    assert overview.drift(org.pk) == 0
    with scope(organization=org):
        restore_field(risky["risk"], actor=Actor.member(owner))
    assert ("High", "Proof") in _cells(org) and ("Low", "Proof") not in _cells(org)
    assert overview.drift(org.pk) == 0
