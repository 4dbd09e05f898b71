"""The REST API as a door: a value on file changes only to a valid new value, or by `null`.

An omitted field leaves its value, `null` removes it (a history row names the key), and an
empty or impossible input is a 400 on its item, with nothing written from the whole list.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from profiles.models import FieldValue, FieldValueHistory
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db

# What each type holds on file before the request, and the choices of the choice field.
ON_FILE: dict[str, Any] = {
    "text": "Old employer",
    "long_text": "12 Old Street\nLondon",
    "number": "42.5",
    "date": "1985-03-14",
    "email": "old@example.com",
    "phone": "+33 6 12 34 56 78",
    "choice": "low",
    "boolean": True,
}
CHOICES = ["low", "medium", "high"]
EMPTY = ["", " ", "   ", "\t", "\n", " \r\n ", "\u00a0", "\u2003"]
IMPOSSIBLE_DATES = [
    "2025-02-31",
    "2027-02-29",
    "1985-04-31",
    "2027-13-01",
    "2027-00-10",
    "24:00",
    "31/02/1985",
    "2027-02-29T00:00",
]
HOSTILE_STRINGS = ["\x00", "Old\x00employer", "x" * 100_000, "1" * 5_001, "<script>\x00"]
WRONG_SHAPES: list[Any] = [[], ["Old employer"], {}, {"value": "x"}, [None], {"remove": True}]


def _patch(client, profile, values):
    return client.patch(
        f"/api/v1/profiles/{profile.uuid}/values/",
        json.dumps({"values": values}),
        content_type="application/json",
    )


def _field(org, type_: str, **kwargs: Any):
    if type_ == "choice":
        kwargs.setdefault("choices", CHOICES)
    return factories.field(org, type_, **kwargs)


def _on_file(profile, field) -> Any:
    with scopes_disabled():
        value = FieldValue.objects.filter(profile=profile, field=field).first()
    return None if value is None else value.value


def _rows(profile, field) -> list[FieldValueHistory]:
    with scopes_disabled():
        return list(FieldValueHistory.objects.filter(profile=profile, field=field).order_by("id"))


def _set(profile, field, value) -> None:
    with scopes_disabled():
        apply_values(profile, [NewValue(field, value)], source="staff")


def _errors(response) -> dict[str, set[str]]:
    by_attr: dict[str, set[str]] = {}
    for error in response.json()["errors"]:
        by_attr.setdefault(error["attr"], set()).add(error["code"])
    return by_attr


# The bugs as reported: each failed before the API refused empty input.


@pytest.mark.parametrize("type_", ["date", "number", "email", "phone", "choice", "boolean"])
def test_an_empty_string_never_clears_a_value(api, org, type_):
    field = _field(org, type_)
    profile = factories.contact(org)
    _set(profile, field, ON_FILE[type_])
    response = _patch(api, profile, [{"field": str(field.uuid), "value": ""}])
    assert response.status_code == 400
    assert set(_errors(response)) == {"values.0.value"}
    assert _on_file(profile, field) == ON_FILE[type_]
    assert len(_rows(profile, field)) == 1  # the staff edit that set it, nothing since


@pytest.mark.parametrize("type_", ["text", "long_text"])
@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_an_empty_or_blank_text_is_refused_too_null_removes(api, org, type_, blank):
    field = _field(org, type_)
    profile = factories.contact(org)
    _set(profile, field, ON_FILE[type_])
    response = _patch(api, profile, [{"field": str(field.uuid), "value": blank}])
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["attr"] == "values.0.value" and error["code"] == "blank"
    assert "null" in error["detail"]
    assert _on_file(profile, field) == ON_FILE[type_]


def test_the_refusal_is_said_in_the_requests_language(api, org):
    field = _field(org, "date")
    profile = factories.contact(org)
    response = api.patch(
        f"/api/v1/profiles/{profile.uuid}/values/",
        json.dumps({"values": [{"field": str(field.uuid), "value": ""}]}),
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    assert "envoyez null pour supprimer la valeur" in response.json()["errors"][0]["detail"]


def test_null_removes_the_value_and_the_history_names_the_key(api, org, write_key):
    field = _field(org, "date", label="Born")
    profile = factories.contact(org)
    _set(profile, field, "1985-03-14")
    response = _patch(api, profile, [{"field": str(field.uuid), "value": None}])
    assert response.status_code == 200, response.json()
    assert response.json() == []
    assert _on_file(profile, field) is None
    removal = _rows(profile, field)[-1]
    assert (removal.old_value, removal.new_value) == ("1985-03-14", None)
    assert (removal.source, removal.api_key_uuid, removal.user_id) == (
        "api",
        write_key[0].uuid,
        None,
    )
    # Removing what is not there changes nothing and records nothing.
    assert _patch(api, profile, [{"field": str(field.uuid), "value": None}]).status_code == 200
    assert len(_rows(profile, field)) == 2


def test_an_omitted_field_keeps_its_value(api, org):
    kept = _field(org, "text")
    changed = _field(org, "text")
    profile = factories.contact(org)
    _set(profile, kept, "Old employer")
    response = _patch(api, profile, [{"field": str(changed.uuid), "value": "New"}])
    assert response.status_code == 200
    assert _on_file(profile, kept) == "Old employer" and len(_rows(profile, kept)) == 1


def test_an_item_without_its_value_key_is_refused_not_a_removal(api, org):
    field = _field(org, "text")
    profile = factories.contact(org)
    _set(profile, field, "Old employer")
    response = _patch(api, profile, [{"field": str(field.uuid)}])
    assert response.status_code == 400
    assert _errors(response) == {"values.0.value": {"required"}}
    assert _on_file(profile, field) == "Old employer"


def test_a_required_field_cannot_be_removed_as_in_the_back_office(api, org):
    field = _field(org, "text", required=True)
    profile = factories.contact(org)
    _set(profile, field, "Old employer")
    response = _patch(api, profile, [{"field": str(field.uuid), "value": None}])
    assert response.status_code == 400
    assert _errors(response) == {"values.0.value": {"required"}}
    assert _on_file(profile, field) == "Old employer"


@pytest.mark.parametrize("raw", IMPOSSIBLE_DATES)
def test_an_impossible_date_is_refused_on_its_item(api, org, raw):
    field = _field(org, "date")
    profile = factories.contact(org)
    _set(profile, field, "1985-03-14")
    response = _patch(api, profile, [{"field": str(field.uuid), "value": raw}])
    assert response.status_code == 400
    assert set(_errors(response)) == {"values.0.value"}
    assert _on_file(profile, field) == "1985-03-14"


@pytest.mark.parametrize("raw", ["1.5", "01/02/2027", "2027-2-1", "+2027-02-01", " 2027-02-01"])
def test_a_date_is_iso_whatever_the_requests_language(api, org, raw):
    """01/02/2027 is 1 February in French and 2 January in English: only ISO is unambiguous."""
    field = _field(org, "date")
    profile = factories.contact(org)
    _set(profile, field, "1985-03-14")
    for language in ("en", "fr"):
        response = api.patch(
            f"/api/v1/profiles/{profile.uuid}/values/",
            json.dumps({"values": [{"field": str(field.uuid), "value": raw}]}),
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE=language,
        )
        assert response.status_code == 400, (language, response.json())
    assert _on_file(profile, field) == "1985-03-14"


@pytest.mark.parametrize("raw", ["1,500", "1 500", "1.500,5", "1e3", "0x10", "NaN", "Infinity"])
def test_a_number_is_canonical_whatever_the_requests_language(api, org, raw):
    """ "1,500" is fifteen hundred in English and one and a half in French: refused."""
    field = _field(org, "number")
    profile = factories.contact(org)
    _set(profile, field, "42.5")
    for language in ("en", "fr"):
        response = api.patch(
            f"/api/v1/profiles/{profile.uuid}/values/",
            json.dumps({"values": [{"field": str(field.uuid), "value": raw}]}),
            content_type="application/json",
            HTTP_ACCEPT_LANGUAGE=language,
        )
        assert response.status_code == 400, (language, raw)
        assert set(_errors(response)) == {"values.0.value"}
    assert _on_file(profile, field) == "42.5"


@pytest.mark.parametrize("raw", ["0001-01-01", "1899-12-31", "2201-01-01", "9999-12-31"])
def test_a_year_out_of_the_fields_range_is_refused(api, org, raw):
    field = _field(org, "date")
    profile = factories.contact(org)
    _set(profile, field, "1985-03-14")
    response = _patch(api, profile, [{"field": str(field.uuid), "value": raw}])
    assert response.status_code == 400
    assert set(_errors(response)) == {"values.0.value"}
    assert _on_file(profile, field) == "1985-03-14"


@pytest.mark.parametrize(
    ("type_", "raw"),
    [
        ("text", 42),
        ("text", 1.5),
        ("text", True),
        ("long_text", 7),
        ("email", 1),
        ("phone", 33612345678),
        ("choice", 1),
        ("date", True),
        ("date", 20270201),
        ("number", True),
        ("number", False),
        ("boolean", "true"),
        ("boolean", 1),
        ("boolean", 0),
        ("boolean", "yes"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_refused(api, org, type_, raw):
    field = _field(org, type_)
    profile = factories.contact(org)
    _set(profile, field, ON_FILE[type_])
    response = _patch(api, profile, [{"field": str(field.uuid), "value": raw}])
    assert response.status_code == 400
    assert set(_errors(response)) == {"values.0.value"}
    assert _on_file(profile, field) == ON_FILE[type_]


def test_one_bad_item_writes_nothing_from_the_list(api, org):
    text = _field(org, "text")
    day = _field(org, "date")
    flag = _field(org, "boolean")
    profile = factories.contact(org)
    _set(profile, text, "Old employer")
    _set(profile, day, "1985-03-14")
    response = _patch(
        api,
        profile,
        [
            {"field": str(text.uuid), "value": None},
            {"field": str(flag.uuid), "value": False},
            {"field": str(day.uuid), "value": ""},
        ],
    )
    assert response.status_code == 400
    assert set(_errors(response)) == {"values.2.value"}
    assert _on_file(profile, text) == "Old employer"
    assert _on_file(profile, day) == "1985-03-14"
    assert _on_file(profile, flag) is None
    with scopes_disabled():
        assert FieldValueHistory.objects.filter(profile=profile, source="api").count() == 0


@pytest.mark.parametrize("field", [None, 1, [], {}, "not-a-uuid", "\x00", "x" * 10_000])
def test_a_hostile_field_is_refused_on_its_item(api, org, field):
    profile = factories.contact(org)
    response = _patch(api, profile, [{"field": field, "value": "x"}])
    assert response.status_code == 400
    assert set(_errors(response)) == {"values.0.field"}


@pytest.mark.parametrize(
    "body",
    [
        *([], "x", 1, None, {}, {"values": None}, {"values": "x"}, {"values": {}}),
        *({"values": []}, {"values": [1]}, {"values": [[]]}, {"values": [None]}),
        {"values": ["x"]},
    ],
)
def test_a_hostile_body_is_a_400_never_a_500(api, org, body):
    profile = factories.contact(org)
    response = api.patch(
        f"/api/v1/profiles/{profile.uuid}/values/",
        json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["type"] == "validation_error"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_beyond_the_standard_is_refused(api, org, constant):
    field = _field(org, "number")
    profile = factories.contact(org)
    response = api.patch(
        f"/api/v1/profiles/{profile.uuid}/values/",
        f'{{"values": [{{"field": "{field.uuid}", "value": {constant}}}]}}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "parse_error"


@pytest.mark.parametrize("text", ["\ud800", "Old \udfff employer"])
def test_a_lone_surrogate_is_refused_before_it_reaches_a_field(api, org, text):
    """Stored, or echoed in a choice's error, it made the response itself fail: a 500."""
    field = _field(org, "choice")
    profile = factories.contact(org)
    bodies = [
        (
            f"/api/v1/profiles/{profile.uuid}/values/",
            "patch",
            {"values": [{"field": str(field.uuid), "value": text}]},
        ),
        ("/api/v1/profiles/", "post", {"kind": "contact", "last_name": text, "email": "a@b.co"}),
    ]
    for url, method, body in bodies:
        response = getattr(api, method)(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "parse_error"
    assert _on_file(profile, field) is None


@pytest.mark.parametrize("depth", [900, 990, 100_000])
def test_json_nested_deep_is_a_400_not_a_500(api, org, depth):
    """100,000 deep exhausted the parser's recursion, which DRF does not catch: a 500."""
    field = _field(org, "text")
    profile = factories.contact(org)
    deep = "[" * depth + "]" * depth
    response = api.patch(
        f"/api/v1/profiles/{profile.uuid}/values/",
        f'{{"values": [{{"field": "{field.uuid}", "value": {deep}}}]}}',
        content_type="application/json",
    )
    assert response.status_code == 400


def test_an_empty_document_is_refused_on_its_file(api, org):
    proof = _field(org, "document", accepted_types=["pdf"])
    profile = factories.contact(org)
    response = api.post(
        f"/api/v1/profiles/{profile.uuid}/documents/",
        {"field": str(proof.uuid), "file": SimpleUploadedFile("empty.pdf", b"")},
    )
    assert response.status_code == 400
    assert set(_errors(response)) == {"file"}
    assert _on_file(profile, proof) is None


# The property, per type: whatever arrives, a value on file changes only to a valid new
# value or by null, each change is one history row naming the key, and no input is a 500.


def _valid(type_: str) -> st.SearchStrategy[Any]:
    """(input, the canonical value it becomes) for inputs the field accepts."""
    text = st.text(
        alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]),
        min_size=1,
        max_size=40,
    ).filter(lambda s: s.strip())
    match type_:
        case "text" | "long_text":
            return text.map(lambda s: (s, s.strip()))
        case "number":
            numbers = st.decimals(
                min_value=-(10**12), max_value=10**12, places=2, allow_nan=False
            ).map(lambda d: format(d, "f"))
            return st.one_of(
                # Kept with the decimals it was sent with; only a zero loses its sign.
                numbers.map(
                    lambda s: (
                        s,
                        format(Decimal(s).copy_abs() if not Decimal(s) else Decimal(s), "f"),
                    )
                ),
                st.integers(-(10**9), 10**9).map(lambda n: (n, str(n))),
            ).map(lambda p: (p[0], "0" if p[1] in {"-0", ""} else p[1]))
        case "date":
            return st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)).map(
                lambda d: (d.isoformat(), d.isoformat())
            )
        case "email":
            return st.from_regex(r"\A[a-z]{1,12}@[a-z]{1,12}\.(com|fr|org)\Z").map(lambda s: (s, s))
        case "phone":
            return st.from_regex(r"\A\+?[0-9]{6,15}\Z").map(lambda s: (s, s))
        case "choice":
            return st.sampled_from(CHOICES).map(lambda s: (s, s))
        case "boolean":
            return st.booleans().map(lambda b: (b, b))
    raise AssertionError(type_)


def _refused(type_: str) -> st.SearchStrategy[Any]:
    """Inputs the field must refuse: empty, impossible, hostile, or of the wrong JSON type."""
    common = st.one_of(
        st.sampled_from(EMPTY),
        st.sampled_from(HOSTILE_STRINGS),
        st.sampled_from(WRONG_SHAPES),
    )
    match type_:
        case "text" | "long_text" | "email" | "phone" | "choice":
            wrong = st.one_of(
                st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans()
            )
        case "date":
            wrong = st.one_of(
                st.sampled_from(IMPOSSIBLE_DATES), st.integers(), st.booleans(), st.text(max_size=8)
            )
        case "number":
            wrong = st.one_of(st.booleans(), st.sampled_from(["1,500", "12abc", "1e3", "--1", "."]))
        case "boolean":
            wrong = st.one_of(st.integers(), st.sampled_from(["true", "false", "yes", "1"]))
    return st.one_of(common, wrong)


def _second(type_: str):
    return st.one_of(
        st.just(("absent", None)),
        st.just(("null", None)),
        _valid(type_).map(lambda p: ("valid", p)),
        _refused(type_).map(lambda raw: ("refused", raw)),
    )


@pytest.mark.parametrize("type_", list(ON_FILE))
def test_a_value_on_file_changes_only_to_a_valid_value_or_by_null(api, org, write_key, type_):
    field = _field(org, type_)
    other = _field(org, "text")  # another item of the same list
    profile = factories.contact(org)

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @example(drawn=("refused", ""), position=0, other_value="Other")
    @example(drawn=("refused", " "), position=1, other_value="Other")
    @example(drawn=("null", None), position=1, other_value="Other")
    @example(drawn=("absent", None), position=0, other_value="Other")
    @given(
        drawn=_second(type_),
        position=st.integers(0, 1),
        other_value=st.sampled_from(["Other", "Other 2"]),
    )
    def check(drawn: tuple[str, Any], position: int, other_value: str) -> None:
        cache.clear()  # the key's rate is not what this tests
        _set(profile, field, ON_FILE[type_])
        before_value = _on_file(profile, field)
        before_other = _on_file(profile, other)
        rows_before = len(_rows(profile, field))
        what, raw = drawn
        items = [{"field": str(other.uuid), "value": other_value}]
        if what == "null":
            items.insert(position, {"field": str(field.uuid), "value": None})
        elif what == "valid":
            items.insert(position, {"field": str(field.uuid), "value": raw[0]})
        elif what == "refused":
            items.insert(position, {"field": str(field.uuid), "value": raw})
        response = _patch(api, profile, items)
        assert response.status_code in (200, 400), (raw, response.status_code)
        rows = _rows(profile, field)[rows_before:]
        if what == "refused":
            assert response.status_code == 400, (raw, response.json())
            assert set(_errors(response)) == {f"values.{position}.value"}, raw
            # All or nothing: the other, valid item is not written either.
            assert _on_file(profile, other) == before_other
            assert _on_file(profile, field) == before_value and rows == []
            return
        assert response.status_code == 200, (raw, response.json())
        assert _on_file(profile, other) == other_value
        expected = {"absent": before_value, "null": None}[what] if what != "valid" else raw[1]
        assert _on_file(profile, field) == expected
        if expected == before_value:
            assert rows == []
        else:
            [row] = rows
            assert (row.old_value, row.new_value) == (before_value, expected)
            assert (row.source, row.api_key_uuid, row.field_id) == (
                "api",
                write_key[0].uuid,
                field.pk,
            )

    check()


def test_a_profiles_create_and_change_refuse_values_rather_than_drop_them(api, org):
    """The identity endpoints take no values: sent there, they were silently ignored."""
    field = _field(org, "text")
    values = [{"field": str(field.uuid), "value": "Old employer"}]
    identity = {"kind": "contact", "last_name": "Doe", "email": "j@example.com"}
    response = api.post(
        "/api/v1/profiles/",
        json.dumps({**identity, "values": values}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert set(_errors(response)) == {"values"}
    profile = factories.contact(org)
    for method in ("put", "patch"):
        response = getattr(api, method)(
            f"/api/v1/profiles/{profile.uuid}/",
            json.dumps({**identity, "values": values}),
            content_type="application/json",
        )
        assert response.status_code == 400
        assert set(_errors(response)) == {"values"}
    assert _on_file(profile, field) is None
