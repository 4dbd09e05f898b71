"""Which groups are due and whom a group asks: each rule's forms select the same rows.

Runs on SQLite here and on PostgreSQL in CI's PostgreSQL leg (the whole suite with
DATABASE_URL set), where the dispatcher claims due groups in one statement.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django_scopes import scope, scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring.models import GroupDue, UpdateGroup
from monitoring.selectors import audience, due_q, due_sql
from monitoring.services import preview
from tests import factories

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)

# A group: active or paused, its next run some minutes before or after NOW (0: exactly now),
# its cadence (only calendar groups are due as a whole).
groups_st = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(-3000, 3000) | st.just(0),
        st.sampled_from(["calendar", "rolling", "tiered"]),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(groups=groups_st)
def test_the_orm_and_the_sql_claim_the_same_due_groups(org, groups):
    with transaction.atomic(), scopes_disabled():
        for i, (active, minutes, cadence) in enumerate(groups):
            group = factories.group(org)
            group.next_run_at = NOW + dt.timedelta(minutes=minutes)
            if i % 2:
                group.is_active, group.cadence = active, cadence
                group.save()
            else:
                # Written around `UpdateGroup.save`: its `GroupDue` row still says dispatched.
                group.save()
                UpdateGroup.objects.filter(pk=group.pk).update(is_active=active, cadence=cadence)
        orm = set(GroupDue.objects.filter(due_q(NOW)).values_list("group_id", flat=True))
        expected = {
            g.pk
            for g in UpdateGroup.objects.all()
            if g.is_active and g.next_run_at <= NOW and g.cadence == "calendar"
        }
        assert orm == expected
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT d.group_id FROM {GroupDue._meta.db_table} d"  # noqa: S608
                f" JOIN {UpdateGroup._meta.db_table} g ON g.id = d.group_id"
                f" WHERE {due_sql('d', 'g')}",
                {"now": connection.ops.adapt_datetimefield_value(NOW)},
            )
            assert {row[0] for row in cursor.fetchall()} == orm
        transaction.set_rollback(True)


def test_a_group_asks_every_active_profile_of_its_type(org, other_org):
    here = factories.contact(org, last_name="Here")
    factories.contact(org, last_name="Gone", archived_at=NOW)
    factories.company(org)
    factories.contact(other_org, last_name="Elsewhere")
    with scope(organization=org):
        assert list(audience(org, "contact", [])) == [here]
        shown = preview(org, start=dt.date(2027, 3, 1), count=1, unit="months", kind="contact")
        assert shown.recipients == 1
