"""Archived or not: the QuerySet methods, the Q through a relation and the SQL fragments
select the same rows, on random profiles and fields.

Runs on SQLite here and on PostgreSQL in CI's PostgreSQL leg (the whole suite with
DATABASE_URL set), where the overview's and the outbox's statements run in production.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from django_scopes import scope, scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles.models import DataField, FieldValue, Profile
from profiles.selectors import active_q, active_sql, archived_q, archived_sql
from tests import factories

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)

# Each row archived or not: None, or a moment some days before MOMENT (or after: a date in
# the future is still "archived", the column is set).
archived_st = st.lists(st.none() | st.integers(-400, 400), min_size=1, max_size=6)


def _moment(days: int | None) -> dt.datetime | None:
    return None if days is None else MOMENT + dt.timedelta(days=days)


def _ids(sql: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {row[0] for row in cursor.fetchall()}


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(profiles=archived_st, fields=archived_st)
def test_the_methods_the_relation_q_and_the_sql_select_the_same_rows(org, profiles, fields):
    with transaction.atomic():
        made = [factories.contact(org, archived_at=_moment(days)) for days in profiles]
        asked = [factories.field(org, archived_at=_moment(days)) for days in fields]
        with scopes_disabled():
            FieldValue.objects.bulk_create(
                FieldValue(organization=org, profile=p, field=f, value="x")
                for p in made
                for f in asked
            )
        with scope(organization=org):
            for model in (Profile, DataField):
                table = model._meta.db_table
                active = set(model.objects.active().values_list("id", flat=True))
                archived = set(model.objects.archived().values_list("id", flat=True))
                assert active == {r.pk for r in model.objects.all() if r.archived_at is None}
                assert archived == set(model.objects.values_list("id", flat=True)) - active
                for alias in ("", "t"):
                    select = f"SELECT id FROM {table} {alias} WHERE"  # noqa: S608
                    assert _ids(f"{select} {active_sql(alias)}") == active
                    assert _ids(f"{select} {archived_sql(alias)}") == archived
                # Through a relation, as the expiry pass and the API's choices read them.
                through = model._meta.model_name if model is Profile else "field"
                values = FieldValue.objects.all()
                assert {
                    getattr(v, f"{through}_id") for v in values.filter(active_q(through))
                } == active & {getattr(v, f"{through}_id") for v in values}
                assert {
                    getattr(v, f"{through}_id") for v in values.filter(archived_q(through))
                } == archived & {getattr(v, f"{through}_id") for v in values}
        transaction.set_rollback(True)


def test_the_company_choice_of_a_contact_leaves_archived_companies_out(org, member_client):
    factories.company(org, name="Gone Ltd", archived_at=MOMENT)
    factories.company(org, name="Here Ltd")
    page = member_client.get(f"/o/{org.slug}/contacts/new/")
    assert "Here Ltd" in page.text
    assert "Gone Ltd" not in page.text
