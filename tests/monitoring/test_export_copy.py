"""The compliance overview's CSV written by PostgreSQL (`COPY`) says what the Python writer
says: the same cells, in the same order, as neutralised, whatever the names hold."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import replace

import pytest
from django.db import connection
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitoring import overview
from monitoring.models import GroupField
from organizations.csvexport import copied_lines, neutralise, neutralise_sql
from profiles.models import FieldValue, Profile
from tests import factories

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]

TODAY = dt.date(2028, 2, 29)

# What a spreadsheet could run, what CSV must quote, what `strip()` takes off.
AWKWARD = [
    "=cmd|' /C calc'!A0",
    "Dupont;=1+1",
    "Dupont, ; +SUM(A1)",
    "'=already",
    "''@twice",
    ' "-quoted',
    'say "hi"',
    "two\nlines",
    "cr\rhere",
    "\ttab",
    "\u00a0\u3000",
    "Zoë Ørsted",
    "",
    "\\.",
]


def _read(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def _both(org, words: overview.ExportWords, filters=None) -> tuple[list, list]:
    filters = filters or overview.Filters()
    python = "".join(overview._csv_by_python(org.pk, filters, TODAY, words))
    copied = b"".join(overview._csv_by_copy(org.pk, filters, TODAY, words)).decode()
    assert copied.startswith("\ufeff")
    return _read(python), _read(copied)


def _words(fields, titles) -> overview.ExportWords:
    return overview.ExportWords(
        header=["Nom", "=Type", "Champ", "Groupe", "Statut", "Échéance"],
        kinds={"contact": "Contact", "company": "+Société"},
        fields=fields,
        titles=titles,
        statuses={
            "valid": "Valide",
            "expiring": "Expire, bientôt",
            "requested": "Demandé",
            "overdue": "-En retard",
            "expired": "Expiré",
            "missing": "Manquant",
        },
    )


@pytest.fixture
def awkward(org):
    address = factories.field(org, "text", label="=Adresse")
    proof = factories.field(org, "text", label="Preuve; -x", applies_to="company")
    factories.group(org, [address], title="@Personnes")
    factories.group(org, [proof], title="Sociétés", applies_to="company")
    with scopes_disabled():
        for n, text in enumerate(AWKWARD):
            person = factories.contact(org, first_name=text, last_name=f"{text}{n}")
            factories.contact(org, first_name=" ", last_name=text)
            factories.company(org, name=text)
            FieldValue.objects.create(
                organization=org,
                profile=person,
                field=address,
                value="v",
                expires_on=TODAY + dt.timedelta(days=(n - 7) * 10),
            )
    overview.refresh(org.pk)
    return {"address": address, "proof": proof}


def test_the_database_writes_what_python_writes(org, awkward):
    words = _words(
        {awkward["address"].pk: "=Adresse", awkward["proof"].pk: "Preuve\nsur deux lignes"},
        {"@Personnes": "@Personnes", "Sociétés": 'Les "sociétés"'},
    )
    python, copied = _both(org, words)
    assert len(python) == 1 + 3 * len(AWKWARD)
    assert copied == python
    # A spreadsheet would run none of it.
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in copied for cell in row)


def test_fields_and_groups_missing_from_the_words_are_neutralised_too(org, awkward):
    python, copied = _both(org, _words({}, {}))
    assert copied == python
    assert {row[2] for row in copied[1:]} == {"'=Adresse", "Preuve;' -x"}
    assert {row[3] for row in copied[1:]} == {"'@Personnes", "Sociétés"}


def test_the_filters_hold(org, awkward):
    words = _words({}, {})
    with scopes_disabled():
        group = GroupField.objects.get(field=awkward["address"]).group_id
        company = Profile.objects.filter(organization=org, kind="company").first()
        factories.contact(org, last_name="Employé", company=company)
    overview.refresh(org.pk)
    for filters in (
        overview.Filters(status="expired"),
        overview.Filters(kind="company"),
        overview.Filters(query="Dupont"),
        overview.Filters(group_id=group),
        overview.Filters(company_id=company.pk),
    ):
        python, copied = _both(org, words, filters)
        assert copied == python
        assert 1 < len(copied) < 1 + 3 * len(AWKWARD), filters
    for query in ("'=already", "\\.", "%_"):
        python, copied = _both(org, words, overview.Filters(query=query))
        assert copied == python


def test_a_kind_missing_from_the_words_is_neutralised_too(org, awkward):
    words = _words({}, {})
    python, copied = _both(org, replace(words, kinds={}))
    assert copied == python
    assert {row[1] for row in copied[1:]} == {"contact", "company"}


def _stop_early_then_query() -> None:
    # A line a chunk: the reader leaves in the middle of the COPY, which psycopg cancels.
    lines = copied_lines("SELECT g FROM generate_series(1, 1000000) g", [], ["n"], size=1)
    assert [next(lines), next(lines), next(lines)] == [b"\xef\xbb\xbfn\n", b"1\n", b"2\n"]
    lines.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_a_reader_who_stops_early_leaves_the_transaction_usable():
    # Inside another transaction, as a test runs (a savepoint of its own).
    _stop_early_then_query()


@pytest.mark.django_db(transaction=True)
def test_a_reader_who_stops_early_leaves_the_connection_usable():
    # In autocommit, as a streamed response is read once the view has returned.
    assert connection.get_autocommit() and not connection.in_atomic_block
    _stop_early_then_query()
    assert connection.get_autocommit() and not connection.in_atomic_block


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.text(alphabet="=+-@'\" ,;\t\r\nab\u00a0", max_size=12), max_size=40))
def test_the_database_neutralises_as_python_does(texts):
    expression, params = neutralise_sql("t")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {expression} FROM unnest(%s::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n",  # noqa: S608
            [*params, texts],
        )
        assert [row[0] for row in cursor.fetchall()] == [neutralise(text) for text in texts]
