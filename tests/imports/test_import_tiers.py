"""An import is a door for tiers too: a raised risk moves the profile's next update at once,
and a profile the import creates joins the rolling and tiered groups of its type."""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scope, scopes_disabled

from monitoring import actions
from monitoring.models import Cadence, ProfileSchedule, UpdateGroup
from organizations.actors import Actor
from organizations.models import AuditEntry
from tests import factories
from tests.imports.test_import import _french_excel, _import, fields, frozen  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]


def test_an_import_that_raises_a_risk_moves_the_next_update(member_client, org, fields):  # noqa: F811
    proof = factories.field(org, "document", label="Proof")
    _import(member_client, org, _french_excel("C1;Zoé;Dupré;zoe@example.com;;;faible\r\n"))
    group = UpdateGroup(
        organization=org,
        title="Risque",
        applies_to="contact",
        start_date=dt.date(2027, 1, 1),
        interval_count=36,
        interval_unit="months",
        cadence=Cadence.TIERED,
        tier_field=fields["risk"],
        tiers=[{"value": "high", "months": 12}, {"value": "low", "months": 60}],
    )
    group.schedule_from()
    with scope(organization=org):
        actions.save_group(group, actor=Actor.system("test"), fields=[proof])
    with scopes_disabled():
        row = ProfileSchedule.objects.get(group=group)
    assert (row.tier, row.due_on) == ("low", dt.date(2032, 3, 1))
    _import(member_client, org, _french_excel("C1;Zoé;Dupré;zoe@example.com;;;élevé\r\n"))
    with scopes_disabled():
        row = ProfileSchedule.objects.get(group=group)
        entry = AuditEntry.objects.get(action="monitoring.schedule.moved")
    assert (row.tier, row.due_on) == ("high", dt.date(2028, 3, 1))
    assert (entry.details["tier_before"], entry.details["tier_after"]) == ("low", "high")
    # A new profile from the next file joins the group the moment it is created.
    _import(member_client, org, _french_excel("C2;Jean;Martin;jean@example.com;;;\r\n"))
    with scopes_disabled():
        assert ProfileSchedule.objects.filter(group=group).count() == 2
