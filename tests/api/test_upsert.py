"""The bulk upsert by external reference: the import's writer behind the API."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from organizations.models import AuditEntry
from profiles.models import FieldValue, FieldValueHistory, Profile, Source
from tests import factories

pytestmark = pytest.mark.django_db
URL = "/api/v1/profiles/upsert/"


def _post(api, body):
    return api.post(URL, json.dumps(body), content_type="application/json")


@pytest.fixture
def income(org):
    return factories.field(org, "number", label="Income")


def _rows(income, n=2, value="12.5"):
    return [
        {
            "reference": f"C{i}",
            "identity": {"last_name": f"N{i}", "email": f"n{i}@example.com"},
            "values": [{"field": str(income.uuid), "value": value}],
        }
        for i in range(n)
    ]


def test_rows_are_created_then_left_alone_then_changed_by_reference(api, org, income, write_key):
    first = _post(api, {"kind": "contact", "rows": _rows(income)})
    assert first.status_code == 200, first.json()
    assert (first.json()["created"], first.json()["changed"]) == (2, 0)
    again = _post(api, {"kind": "contact", "rows": _rows(income)})
    assert (again.json()["created"], again.json()["changed"], again.json()["unchanged"]) == (
        0,
        0,
        2,
    )
    changed = _post(api, {"kind": "contact", "rows": _rows(income, value="13")})
    assert changed.json()["changed"] == 2
    with scopes_disabled():
        profile = Profile.objects.get(external_reference="C0")
        assert str(profile.uuid) == changed.json()["profiles"]["C0"]
        assert FieldValue.objects.get(profile=profile).value == "13"
        latest = FieldValueHistory.objects.filter(profile=profile).first()
        assert (latest.source, latest.api_key_uuid) == (Source.API, write_key[0].uuid)
        assert AuditEntry.objects.filter(action="imports.profiles.imported").count() == 3


def test_one_bad_row_refuses_the_whole_call_naming_it(api, org, income):
    rows = _rows(income, 3)
    rows[2]["values"][0]["value"] = "twelve"
    refused = _post(api, {"kind": "contact", "rows": rows})
    assert refused.status_code == 400
    assert [e["attr"] for e in refused.json()["errors"]] == ["rows.2.values.0.value"]
    with scopes_disabled():
        assert not Profile.objects.filter(organization=org).exists()


def test_a_row_the_writer_refuses_rolls_the_call_back(api, org, income):
    rows = _rows(income, 2)
    del rows[1]["identity"]["email"]  # a new contact needs its e-mail
    refused = _post(api, {"kind": "contact", "rows": rows})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["attr"] == "rows.1"
    with scopes_disabled():
        assert not Profile.objects.filter(organization=org).exists()


@pytest.mark.parametrize(
    ("body", "attr"),
    [
        ({"kind": "contact", "rows": []}, "rows.non_field_errors"),
        ({"kind": "robot", "rows": [{"reference": "x"}]}, "kind"),
        ({"kind": "contact", "rows": [{"reference": ""}]}, "rows.0.reference"),
        (
            {
                "kind": "contact",
                "rows": [{"reference": "x", "values": [{"field": "nope", "value": 1}]}],
            },
            "rows.0.values.0.field",
        ),
        (
            {"kind": "company", "rows": [{"reference": "x", "identity": {"email": "a@b.c"}}]},
            "rows.0.identity.email",
        ),
    ],
)
def test_hostile_input_is_a_400_naming_its_place(api, org, body, attr):
    response = _post(api, body)
    assert response.status_code == 400
    assert attr in [e["attr"] for e in response.json()["errors"]]


def test_null_never_removes_a_value(api, org, income):
    rows = _rows(income, 1)
    rows[0]["values"][0]["value"] = None
    response = _post(api, {"kind": "contact", "rows": rows})
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [
        ("rows.0.values.0.value", "null")
    ]


def test_another_organisations_field_or_a_document_field_does_not_exist(api, org, other_org):
    theirs = factories.field(other_org, "text", label="Theirs")
    document = factories.field(org, "document", label="Passport scan")
    rows = [
        {
            "reference": "C1",
            "identity": {"last_name": "A", "email": "a@example.com"},
            "values": [
                {"field": str(theirs.uuid), "value": "x"},
                {"field": str(document.uuid), "value": "x"},
            ],
        }
    ]
    response = _post(api, {"kind": "contact", "rows": rows})
    attrs = {e["attr"]: e["code"] for e in response.json()["errors"]}
    assert attrs == {
        "rows.0.values.0.field": "does_not_exist",
        "rows.0.values.1.field": "does_not_exist",
    }


def test_more_than_a_thousand_rows_are_refused(api, income):
    response = _post(api, {"kind": "contact", "rows": _rows(income, 1001)})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "max_length"


def test_the_queries_do_not_grow_with_the_rows(api, income):
    def count(n, offset):
        rows = _rows(income, n)
        for row in rows:
            row["reference"] += f"-{offset}"
            row["identity"]["email"] = f"{row['reference']}@example.com"
        with CaptureQueriesContext(connection) as queries:
            assert _post(api, {"kind": "contact", "rows": rows}).status_code == 200
        return len(queries)

    count(5, "warm-up")
    # 40 rows: SQLite takes at most 999 parameters a statement, so a bulk insert of more
    # history rows than that allows is split by Django (PostgreSQL writes them with COPY).
    assert count(5, "a") == count(40, "b")


def test_a_read_only_key_cannot_upsert(org, income):
    from tests.api.conftest import client_for, issue

    reader = client_for(issue(org, access="read", name="Reader")[1])
    assert _post(reader, {"kind": "contact", "rows": _rows(income)}).status_code == 403
