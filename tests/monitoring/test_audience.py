"""A group's audience: whom it asks among the profiles of its type, by conditions on values.

The ORM's selection and the SQL form raw statements use select the same profiles, checked
on random data (on SQLite here, on PostgreSQL in CI's PostgreSQL leg).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django_scopes import scope, scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers.models import Dossier
from monitoring.dispatch import dispatch_due, open_run
from monitoring.models import UpdateGroup
from monitoring.selectors import group_audience, group_audience_sql, outside_audience
from profiles.models import FieldValue, Profile
from tests import factories

pytestmark = pytest.mark.django_db

RISKS = ["High", "Medium", "Low"]
COUNTRIES = ["FR", "BE", "DE", "CH"]


def _value(org, profile, field, value):
    with scopes_disabled():
        FieldValue.objects.update_or_create(
            profile=profile, field=field, defaults={"organization": org, "value": value}
        )


@pytest.fixture
def world(org):
    risk = factories.field(org, "choice", label="Risk", choices=RISKS)
    country = factories.field(org, "text", label="Country")
    turnover = factories.field(org, "number", label="Turnover")
    born = factories.field(org, "date", label="Born")
    pep = factories.field(org, "boolean", label="PEP")
    return {"risk": risk, "country": country, "turnover": turnover, "born": born, "pep": pep}


def _cond(field, op, value):
    return {"field": str(field.uuid), "op": op, "value": value}


def _audience(group):
    with scope(organization=group.organization):
        return set(group_audience(group).values_list("last_name", flat=True))


def test_each_operator_selects_the_profiles_meeting_it(org, world):
    high = factories.contact(org, last_name="High")
    low = factories.contact(org, last_name="Low")
    factories.contact(org, last_name="Blank")
    factories.contact(org, last_name="Gone", archived_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    factories.company(org, name="Firm")
    _value(org, high, world["risk"], "High")
    _value(org, low, world["risk"], "Low")
    _value(org, high, world["country"], "FR")
    _value(org, low, world["country"], "DE")
    _value(org, high, world["turnover"], "1000000.50")
    _value(org, low, world["turnover"], "99")
    _value(org, high, world["born"], "1959-12-31")
    _value(org, low, world["born"], "1990-06-01")
    _value(org, high, world["pep"], True)
    cases = [
        ([_cond(world["risk"], "eq", "High")], {"High"}),
        ([_cond(world["risk"], "in", ["High", "Low"])], {"High", "Low"}),
        ([_cond(world["country"], "in", ["FR", "BE"])], {"High"}),
        ([_cond(world["turnover"], "gt", "1000")], {"High"}),
        ([_cond(world["turnover"], "lt", "1000")], {"Low"}),
        ([_cond(world["born"], "before", "1960-01-01")], {"High"}),
        ([_cond(world["born"], "after", "1960-01-01")], {"Low"}),
        ([_cond(world["pep"], "eq", True)], {"High"}),
        # Every condition must hold.
        ([_cond(world["risk"], "eq", "Low"), _cond(world["country"], "eq", "FR")], set()),
        ([], {"High", "Low", "Blank"}),
    ]
    for conditions, expected in cases:
        group = factories.group(org, audience=conditions)
        assert _audience(group) == expected, conditions


def test_a_condition_on_a_field_archived_since_asks_nobody(org, world):
    person = factories.contact(org, last_name="High")
    _value(org, person, world["risk"], "High")
    group = factories.group(org, audience=[_cond(world["risk"], "eq", "High")])
    assert _audience(group) == {"High"}
    with scopes_disabled():
        world["risk"].archived_at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        world["risk"].save()
    assert _audience(group) == set()


# A random world: each contact's risk (or none), turnover (or none), archived or not.
people_st = st.lists(
    st.tuples(
        st.sampled_from([None, *RISKS]),
        st.none() | st.decimals(-(10**6), 10**6, places=2, allow_nan=False),
        st.sampled_from([None, *COUNTRIES]),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)
conditions_st = st.lists(
    st.one_of(
        st.tuples(st.just("risk"), st.just("in"), st.lists(st.sampled_from(RISKS), min_size=1)),
        st.tuples(st.just("risk"), st.just("eq"), st.sampled_from(RISKS)),
        st.tuples(
            st.just("turnover"),
            st.sampled_from(["gt", "lt"]),
            st.decimals(-(10**6), 10**6, places=2, allow_nan=False).map(str),
        ),
        st.tuples(st.just("country"), st.just("in"), st.lists(st.sampled_from(COUNTRIES))),
    ),
    max_size=3,
)


def _expected(person, conditions):
    risk, turnover, country, archived = person
    if archived:
        return False
    values = {"risk": risk, "turnover": turnover, "country": country}
    for name, op, value in conditions:
        have = values[name]
        if have is None:
            return False
        if op == "eq" and have != value:
            return False
        if op == "in" and have not in value:
            return False
        if op == "gt" and not Decimal(have) > Decimal(value):
            return False
        if op == "lt" and not Decimal(have) < Decimal(value):
            return False
    return True


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(people=people_st, conditions=conditions_st)
def test_the_orm_and_the_sql_select_the_same_audience(org, world, people, conditions):
    with transaction.atomic(), scopes_disabled():
        names = {}
        for i, person in enumerate(people):
            risk, turnover, country, archived = person
            profile = factories.contact(
                org,
                last_name=f"P{i}",
                archived_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if archived else None,
            )
            names[profile.pk] = person
            for name, value in (
                ("risk", risk),
                ("turnover", None if turnover is None else format(turnover, "f")),
                ("country", country),
            ):
                if value is not None:
                    _value(org, profile, world[name], value)
        # A company with the same values is never asked by a group of contacts.
        firm = factories.company(org)
        _value(
            org, firm, factories.field(org, "choice", applies_to="company", choices=RISKS), "High"
        )
        raw = [
            {"field": str(world[name].uuid), "op": op, "value": value}
            for name, op, value in conditions
            if op != "in" or value
        ]
        group = factories.group(org, audience=raw)
        with scope(organization=org):
            orm = set(group_audience(group).values_list("id", flat=True))
        sql, params = group_audience_sql(group, "p")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT p.id FROM {Profile._meta.db_table} p WHERE {sql}",  # noqa: S608
                params,
            )
            assert {row[0] for row in cursor.fetchall()} == orm
        kept = [(n, o, v) for n, o, v in conditions if o != "in" or v]
        assert orm == {pk for pk, person in names.items() if _expected(person, kept)}
        transaction.set_rollback(True)


def _form(org, **data):
    base = {
        "title": "KYC",
        "applies_to": "contact",
        "start_date": "2027-01-04",
        "frequency": "1-months",
        "interval_count": "",
        "interval_unit": "months",
        "spread_days": "1",
    }
    return {**base, **data}


def test_the_form_saves_an_audience_and_the_group_page_lists_who_is_in_and_out(
    owner_client, org, world
):
    proof = factories.field(org, "document")
    for name, risk in (("Ann", "High"), ("Bob", "Low"), ("Cid", None)):
        person = factories.contact(org, last_name=name)
        if risk:
            _value(org, person, world["risk"], risk)
    response = owner_client.post(
        f"/o/{org.slug}/settings/fields/monitoring/new/",
        _form(
            org,
            fields=[proof.pk],
            audience_field_0=str(world["risk"].uuid),
            audience_op_0="in",
            audience_value_0="High, Medium",
        ),
    )
    assert response.status_code == 302, response.context["form"].errors
    with scopes_disabled():
        group = UpdateGroup.objects.get()
    assert group.audience == [_cond(world["risk"], "in", ["High", "Medium"])]
    page = owner_client.get(response["Location"])
    assert "Risk is among High, Medium" in page.text
    inside = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/recipients/")
    assert "Ann" in inside.text and "Bob" not in inside.text and "Cid" not in inside.text
    outside = owner_client.get(
        f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/recipients/?show=out"
    )
    assert "Bob" in outside.text and "Cid" in outside.text and "Ann" not in outside.text
    # The edit form shows the condition as saved, and saving it unchanged keeps it.
    edit = owner_client.get(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/edit/")
    assert edit.context["form"].initial["audience_value_0"] == "High, Medium"
    log = owner_client.get(f"/o/{org.slug}/settings/audit/")
    assert "audience: Risk is among High, Medium" in log.text, log.status_code


def test_the_recipients_pages_are_paginated_with_pinned_queries(
    owner_client, org, world, django_assert_num_queries
):
    with scopes_disabled():
        people = Profile.objects.bulk_create(
            Profile(organization=org, kind="contact", last_name=f"P{i:03}") for i in range(120)
        )
        FieldValue.objects.bulk_create(
            FieldValue(organization=org, profile=p, field=world["risk"], value=RISKS[i % 3])
            for i, p in enumerate(people)
        )
    group = factories.group(org, audience=[_cond(world["risk"], "eq", "High")])
    url = f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/recipients/"
    owner_client.get(url)
    with django_assert_num_queries(8):
        inside = owner_client.get(url + "?page=1")
    assert inside.context["page"].paginator.count == 40
    outside = owner_client.get(url + "?show=out&page=2")
    assert outside.context["page"].paginator.count == 80
    assert len(outside.context["page"].object_list) == 30


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "is not a choice of “Risk”"),
        ("fr", "n’est pas un choix de « Risk »"),  # noqa: RUF001
    ],
)
def test_bad_conditions_are_field_errors_and_nothing_is_saved(
    owner_client, org, world, language, expected
):
    owner_client.cookies["django_language"] = language
    company_field = factories.field(org, "choice", applies_to="company", choices=RISKS)
    bad = [
        (world["risk"], "in", "Extreme", expected),
        (world["turnover"], "gt", "a lot", None),
        (world["born"], "before", "31/02/2020", None),
        (world["risk"], "gt", "1", None),
        (company_field, "eq", "High", None),
    ]
    for field, op, value, message in bad:
        response = owner_client.post(
            f"/o/{org.slug}/settings/fields/monitoring/new/",
            _form(
                org,
                audience_field_0=str(field.uuid),
                audience_op_0=op,
                audience_value_0=value,
            ),
        )
        assert response.status_code == 200
        form = response.context["form"]
        assert form.errors, (field, op, value)
        if field is company_field:
            # Not a choice of the contacts' field list: the choice itself is refused.
            assert "audience_field_0" in form.errors
        else:
            assert "audience_value_0" in form.errors, form.errors
        if message:
            assert message in " ".join(form.errors["audience_value_0"])
    with scopes_disabled():
        assert not UpdateGroup.objects.exists()


def test_the_live_preview_counts_the_audience_as_the_admin_types(owner_client, org, world):
    for name, risk in (("Ann", "High"), ("Bob", "High"), ("Cid", "Low")):
        _value(org, factories.contact(org, last_name=name), world["risk"], risk)
    url = f"/o/{org.slug}/settings/fields/monitoring/new/preview/"
    everyone = owner_client.get(url, _form(org), HTTP_HX_REQUEST="true")
    assert everyone.context["preview"].recipients == 3
    narrowed = owner_client.get(
        url,
        _form(
            org,
            audience_field_0=str(world["risk"].uuid),
            audience_op_0="eq",
            audience_value_0="High",
        ),
        HTTP_HX_REQUEST="true",
    )
    assert narrowed.context["preview"].recipients == 2
    assert "Each update asks 2 contacts." in narrowed.text
    wrong = owner_client.get(
        url,
        _form(
            org, audience_field_0=str(world["risk"].uuid), audience_op_0="eq", audience_value_0="?"
        ),
        HTTP_HX_REQUEST="true",
    )
    assert "Correct the conditions of the audience" in wrong.text


def _api_body(fields, **overrides):
    return {
        "title": "KYC",
        "applies_to": "contact",
        "start_date": "2027-01-04",
        "interval_count": 1,
        "interval_unit": "months",
        "fields": [str(f.uuid) for f in fields],
        **overrides,
    }


def _send(client, method, url, body, **extra):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json", **extra)


@pytest.fixture
def api(org):
    from tests.api.conftest import client_for, issue

    return client_for(issue(org)[1])


def test_the_api_reads_and_writes_the_audience_and_the_spread(api, org, world):
    response = _send(
        api,
        "post",
        "/api/v1/groups/",
        _api_body([], audience=[_cond(world["risk"], "in", ["Low", "High"])], spread_days=5),
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["audience"] == [_cond(world["risk"], "in", ["High", "Low"])]
    assert body["spread_days"] == 5
    # A partial change leaves nested keys optional: a condition without its value is refused.
    partial = _send(
        api,
        "patch",
        f"/api/v1/groups/{body['uuid']}/",
        {"audience": [{"field": str(world["risk"].uuid), "op": "eq"}]},
    )
    assert partial.status_code == 400
    assert partial.json()["errors"][0]["attr"] == "audience"
    cleared = _send(api, "patch", f"/api/v1/groups/{body['uuid']}/", {"audience": []})
    assert cleared.status_code == 200 and cleared.json()["audience"] == []


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_api_refuses_bad_audiences_and_spreads_as_field_errors(api, org, world, language):
    company_field = factories.field(org, "choice", applies_to="company", choices=RISKS)
    bad = [
        {"audience": [_cond(company_field, "eq", "High")]},
        {"audience": [_cond(world["risk"], "eq", "Extreme")]},
        {"audience": [_cond(world["risk"], "in", [{"x": [1]}])]},
        {"audience": [_cond(world["turnover"], "gt", "1e-400")]},
        {"audience": [_cond(world["born"], "before", "2020-02-30")]},
        {"audience": [{"field": "not a uuid", "op": "eq", "value": 1}]},
        {"audience": [_cond(world["risk"], "like", "H%")]},
        {"audience": "High"},
        {"spread_days": 21},
        {"spread_days": 0},
        {"spread_days": 2, "interval_unit": "days"},
    ]
    for extra in bad:
        response = _send(
            api, "post", "/api/v1/groups/", _api_body([], **extra), HTTP_ACCEPT_LANGUAGE=language
        )
        assert response.status_code == 400, (extra, response.content)
        attrs = {e["attr"].split(".")[0] for e in response.json()["errors"]}
        assert attrs <= {"audience", "spread_days"} and attrs, (extra, attrs)
    with scopes_disabled():
        assert not UpdateGroup.objects.exists()


def test_a_profile_entering_the_audience_is_asked_at_the_next_run_one_leaving_keeps_its_request(
    org, world
):
    proof = factories.field(org, "text")
    ann = factories.contact(org, last_name="Ann")
    bob = factories.contact(org, last_name="Bob")
    _value(org, ann, world["risk"], "High")
    _value(org, bob, world["risk"], "Low")
    with time_machine.travel(dt.datetime(2027, 1, 2, 12, tzinfo=dt.UTC), tick=False):
        group = factories.group(
            org,
            [proof],
            start_date=dt.date(2027, 1, 4),
            audience=[_cond(world["risk"], "eq", "High")],
        )
    with time_machine.travel(dt.datetime(2027, 1, 4, 8, tzinfo=dt.UTC), tick=False):
        [run_id] = dispatch_due(fan_out=False)
        open_run(run_id)
    with scopes_disabled():
        assert set(Dossier.objects.values_list("profile__last_name", flat=True)) == {"Ann"}
    # Ann's risk falls, Bob's rises: Bob is asked next time, Ann's open request stays open.
    _value(org, ann, world["risk"], "Low")
    _value(org, bob, world["risk"], "High")
    with scope(organization=org):
        assert set(outside_audience(group).values_list("last_name", flat=True)) == {"Ann"}
    with time_machine.travel(dt.datetime(2027, 2, 4, 8, tzinfo=dt.UTC), tick=False):
        [run_id] = dispatch_due(fan_out=False)
        open_run(run_id)
    with scopes_disabled():
        rows = set(Dossier.objects.values_list("profile__last_name", "period", "status"))
    assert rows == {
        ("Ann", dt.date(2027, 1, 4), Dossier.Status.OPEN),
        ("Bob", dt.date(2027, 2, 4), Dossier.Status.OPEN),
    }


def test_changing_the_type_lists_that_types_fields_for_the_audience(owner_client, org, world):
    factories.field(org, "choice", applies_to="company", label="Sector", choices=["Banking"])
    url = f"/o/{org.slug}/settings/fields/monitoring/new/preview/"
    companies = owner_client.get(url, _form(org, applies_to="company"), HTTP_HX_REQUEST="true")
    assert 'id="group-audience"' in companies.text
    assert "Sector" in companies.text and "Risk" not in companies.text
    contacts = owner_client.get(url, _form(org), HTTP_HX_REQUEST="true")
    assert "Risk" in contacts.text and "Sector" not in contacts.text


json_st = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.lists(
        st.fixed_dictionaries(
            {
                "field": st.sampled_from(["risk", "turnover", "born", "pep", "country", "x"]),
                "op": st.sampled_from(["eq", "in", "gt", "lt", "before", "after", "?"]),
                "value": json_st,
            }
        ),
        max_size=3,
    )
    | json_st
)
def test_any_json_is_either_a_clean_audience_or_a_validation_error(org, world, raw):
    from django.core.exceptions import ValidationError

    from profiles.conditions import clean_conditions

    if isinstance(raw, list):
        raw = [
            {**c, "field": str(world[c["field"]].uuid) if c["field"] in world else "x"}
            if isinstance(c, dict) and "field" in c
            else c
            for c in raw
        ]
    try:
        cleaned = clean_conditions(raw, world.values())
    except ValidationError as error:
        assert error.messages
        return
    # What is clean is stable, and queries without error.
    assert clean_conditions(cleaned, world.values()) == cleaned
    group = factories.group(org, audience=cleaned)
    with scope(organization=org):
        list(group_audience(group))
