"""Who answers a dossier: the rule's three forms (Python, ORM, SQL) select the same people.

Runs on SQLite here and on PostgreSQL in CI's PostgreSQL leg (the whole suite with
DATABASE_URL set): the SQL is checked on the database that runs it in production.
"""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection, transaction
from django_scopes import scope
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers.models import Dossier, answerable_q
from dossiers.selectors import addressed_recipients_sql, is_recipient, recipients, recipients_of
from profiles.models import Profile
from tests import factories

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC)

# A company: archived or not. A contact: archived or not, with an e-mail or not, and which
# company it belongs to (an index into the companies, or none) and whether it represents it.
companies_st = st.lists(st.booleans(), min_size=0, max_size=4)
contacts_st = st.lists(
    st.tuples(st.booleans(), st.booleans(), st.integers(-1, 3), st.booleans()),
    min_size=1,
    max_size=8,
)


def _build(org, companies: list[bool], contacts: list[tuple[bool, bool, int, bool]]):
    archived_at = MOMENT - dt.timedelta(days=1)
    made = [
        factories.company(org, name=f"Company {i}", archived_at=archived_at if archived else None)
        for i, archived in enumerate(companies)
    ]
    for i, (archived, has_email, company, represents) in enumerate(contacts):
        belongs = made[company] if 0 <= company < len(made) else None
        factories.contact(
            org,
            last_name=f"Doe {i}",
            email=f"c{i}@example.com" if has_email else "",
            archived_at=archived_at if archived else None,
            company=belongs,
            is_representative=represents and belongs is not None,
        )
    with scope(organization=org):
        profiles = list(Profile.objects.all())
        for profile in profiles:
            Dossier.objects.create(
                organization=org,
                profile=profile,
                kind=Dossier.Kind.CLASSIC,
                title="Annual review",
                created_at=MOMENT,
                expires_at=MOMENT + dt.timedelta(days=30),
            )
        dossiers = list(Dossier.objects.select_related("profile"))
    return profiles, dossiers


def _sql_pairs(profile_ids: list[int] | None = None) -> set[tuple[int, int]]:
    bound = None
    if profile_ids is not None:
        bound = ("{} IN (" + ", ".join(["%s"] * len(profile_ids)) + ")", profile_ids)
    sql, params = addressed_recipients_sql(
        f"(SELECT id, organization_id, profile_id FROM {Dossier._meta.db_table})",  # noqa: S608
        [],
        profiles=bound,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT dossier_id, profile_id FROM ({sql}) r", params)  # noqa: S608
        return set(cursor.fetchall())


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(companies=companies_st, contacts=contacts_st)
def test_the_python_orm_and_sql_forms_select_the_same_recipients(org, companies, contacts):
    with transaction.atomic():
        profiles, dossiers = _build(org, companies, contacts)
        with scope(organization=org):
            expected = {
                dossier.pk: [p for p in profiles if is_recipient(dossier, p)]
                for dossier in dossiers
            }
            for dossier in dossiers:
                assert set(recipients_of(dossier)) == set(expected[dossier.pk])
                assert set(recipients(dossier)) == set(expected[dossier.pk])
        addressed = {(d, p.pk) for d, people in expected.items() for p in people if p.email}
        assert _sql_pairs() == addressed
        # Bounded to some profiles, as the fan-out bounds it to its chunk's.
        some = [p.pk for p in profiles[::2]]
        owner = {d.pk: d.profile_id for d in dossiers}
        assert _sql_pairs(some) == {(d, p) for d, p in addressed if owner[d] in some}
        transaction.set_rollback(True)


def test_a_contact_answers_for_itself_and_a_company_through_its_active_representatives(org):
    company = factories.company(org)
    rep = factories.contact(org, company=company, is_representative=True, last_name="B")
    no_address = factories.contact(
        org, company=company, is_representative=True, email="", last_name="A"
    )
    factories.contact(org, company=company, last_name="C")  # belongs, does not represent
    factories.contact(
        org, company=company, is_representative=True, archived_at=MOMENT, last_name="D"
    )
    with scope(organization=org):
        dossier = Dossier(organization=org, profile=company)
        # A representative without an address is one: staff may answer on their behalf.
        assert recipients(dossier) == [no_address, rep]
        person = factories.contact(org)
        assert recipients(Dossier(organization=org, profile=person)) == [person]


def test_nothing_is_asked_for_an_archived_profile(org):
    company = factories.company(org, archived_at=MOMENT)
    rep = factories.contact(org, company=company, is_representative=True)
    person = factories.contact(org, archived_at=MOMENT)
    with scope(organization=org):
        for profile in (company, person):
            dossier = Dossier(organization=org, profile=profile)
            assert recipients(dossier) == []
            assert list(recipients_of(dossier)) == []
        assert not is_recipient(Dossier(organization=org, profile=company), rep)


def test_a_company_is_not_its_own_recipient(org):
    company = factories.company(org, email="office@example.com")
    with scope(organization=org):
        dossier = Dossier(organization=org, profile=company)
        assert not is_recipient(dossier, company)
        assert recipients(dossier) == []


def test_the_dossier_page_says_nobody_answers_for_an_archived_contact(org, member_client):
    person = factories.contact(org)
    dossier = factories.dossier(org, person, [factories.field(org, "text")])
    with scope(organization=org):
        Profile.objects.filter(pk=person.pk).update(archived_at=MOMENT)
    page = member_client.get(f"/o/{org.slug}/dossiers/{dossier.uuid}/")
    assert page.context["recipients"] == []
    assert "this profile is archived" in page.text
    assert "has no representative" not in page.text


# A dossier: its status, and its link's expiry some hours before or after MOMENT.
dossiers_st = st.lists(
    st.tuples(st.sampled_from(Dossier.Status.values), st.integers(-48, 48)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dossiers=dossiers_st)
def test_answerable_lapsed_and_running_agree_with_the_dossier_itself(org, dossiers):
    person = factories.contact(org)
    with transaction.atomic(), scope(organization=org), time_machine.travel(MOMENT, tick=False):
        for status, hours in dossiers:
            Dossier.objects.create(
                organization=org,
                profile=person,
                kind=Dossier.Kind.CLASSIC,
                title="Annual review",
                status=status,
                created_at=MOMENT - dt.timedelta(days=1),
                expires_at=MOMENT + dt.timedelta(hours=hours),
            )
        every = list(Dossier.objects.all())
        answerable = set(Dossier.objects.answerable(MOMENT))
        assert answerable == {d for d in every if d.is_open}
        assert set(Dossier.objects.filter(answerable_q(MOMENT))) == answerable
        assert set(Dossier.objects.lapsed(MOMENT)) == {
            d for d in every if d.is_expired and d.status != Dossier.Status.EXPIRED
        }
        # Still running: answerable, lapsed but not yet marked, or awaiting review.
        assert set(Dossier.objects.running()) == {
            d for d in every if d.status in Dossier.OPEN_STATUSES or d.status == "to_review"
        }
        transaction.set_rollback(True)
