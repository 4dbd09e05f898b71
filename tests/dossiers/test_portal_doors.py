"""The door invariants (DESIGN.md) at the client portal and at the review decisions.

Whatever a browser may send — an input absent (a field the page did not show, an unchecked
box), empty, blank, an impossible date (which Chrome sends empty, and other browsers or a
crafted request send as typed), a year out of range or a hostile string — in French and in
English, for a draft or a submission, in a classic or an update dossier, with or without
review:

1. a value on file changes only to a valid new value, or by the explicit "This no longer
   applies — remove it";
2. every change appends exactly one history row naming the actor (the client, and after
   review the member who approved) and the door (the dossier);
4. no input yields a 500, an error is on the field it concerns and the page keeps what was
   typed.

The range of dates a field accepts is profiles.fieldtypes' rule: here a year 0001 or 9999
is only required to be refused, or stored as typed (never anything else).
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from django.utils.html import escape
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossiers.models import Dossier, DossierItem
from monitoring.models import UpdateGroup
from profiles import fieldtypes
from profiles.models import Document, FieldValue, FieldValueHistory, HistoryKind
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db

ABSENT = object()
TYPES = ["text", "long_text", "number", "date", "email", "phone", "choice", "boolean"]
ON_FILE: dict[str, Any] = {
    "text": "Old employer",
    "long_text": "Line one\nLine two",
    "number": "42500.5",
    "date": "1985-02-01",
    "email": "old@example.com",
    "phone": "+33 6 12 34 56 78",
    "choice": "low",
    "boolean": True,
}
BLANK = st.sampled_from(["", " ", "   ", "\t", "\u00a0", "\n", " \r\n "])
HOSTILE = st.sampled_from(
    [
        "x" * 6000,
        "a\x00b",
        "\x00",
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "\u202eevil\u202c",
        "\u200f\u05e9\u05dc\u05d5\u05dd",
        "Robert'); DROP TABLE profiles;--",
        "{{ 7*7 }}",
        "%(name)s",
    ]
)
IMPOSSIBLE_DATES = st.sampled_from(
    ["2025-02-31", "2027-02-29", "24:00", "31/02/1985", "1985-13-01", "0000-00-00"]
)
OUT_OF_RANGE_DATES = st.sampled_from(["0001-01-01", "9999-12-31", "1899-12-31", "2201-01-01"])
VALID: dict[str, st.SearchStrategy[str]] = {
    "text": st.text(min_size=1, max_size=40),
    "long_text": st.text(min_size=1, max_size=200),
    "number": st.sampled_from(["0", "12", "-3.5", "1 234,5", "1,234.5", "42500.5", "1e3"]),
    "date": st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)).map(dt.date.isoformat),
    "email": st.sampled_from(["new@example.com", "x@y.fr", "not-an-email"]),
    "phone": st.sampled_from(["+33 1 23 45 67 89", "0612345678", "12", "phone"]),
    "choice": st.sampled_from(["low", "high", "medium", "LOW"]),
    "boolean": st.sampled_from(["true", "false", "yes", "1"]),
}


def _prefilled(kind: str) -> str:
    return _as_posted(fieldtypes.to_initial(_fake(kind), ON_FILE[kind]))


def _benign(kind: str) -> st.SearchStrategy[Any]:
    """What a browser sends for a field someone filled in, left alone or emptied."""
    return st.one_of(st.just(ABSENT), BLANK, VALID[kind], st.just(_prefilled(kind)))


BAD = st.one_of(HOSTILE, st.text(max_size=20), IMPOSSIBLE_DATES, OUT_OF_RANGE_DATES)


def _fake(kind: str) -> Any:
    from profiles.models import DataField

    return DataField(type=kind, choices=["low", "high"])


def _as_posted(initial: Any) -> str:
    """The prefilled value as the page renders it and the browser sends it back."""
    if isinstance(initial, dt.date):
        return initial.isoformat()
    if isinstance(initial, Decimal):
        return str(initial)
    return str(initial)


DOCUMENT_INPUTS = st.sampled_from(["absent", "pdf", "pdf", "exe", "empty"])


@st.composite
def pages(draw: Any) -> dict[str, Any]:
    """What one browser posts: an input per field, and the boxes it ticked."""
    inputs = {kind: draw(_benign(kind)) for kind in TYPES}
    # One field at most gets the worst input, so that the rest of the page often passes
    # and what the bad input does is seen, not drowned in the others' refusals.
    worst = draw(st.none() | st.sampled_from(TYPES))
    if worst is not None:
        inputs[worst] = draw(BAD)
    return {
        "inputs": inputs,
        "confirm": {kind: draw(st.booleans()) for kind in TYPES},
        "remove": {
            kind: draw(st.sampled_from([False, False, True])) for kind in [*TYPES, "document"]
        },
        "document": draw(DOCUMENT_INPUTS),
        "confirm_all": draw(st.booleans()),
        "action": draw(st.sampled_from(["draft", "submit"])),
        "language": draw(st.sampled_from(["en", "fr"])),
    }


@pytest.fixture
def fields(org) -> dict[str, Any]:
    made = {kind: factories.field(org, kind, label=f"{kind} field") for kind in TYPES}
    with scopes_disabled():
        made["choice"].choices = ["low", "high"]
        made["choice"].save()
    made["document"] = factories.field(org, "document", label="document field")
    return made


_counter = itertools.count()


def _open(org: Any, fields: dict[str, Any], *, kind: str, review: bool) -> dict[str, Any]:
    """A new client holding a value of every field, and a dossier asking for all of them."""
    profile = factories.contact(org, language="en", email=f"c{next(_counter)}@example.com")
    with scopes_disabled():
        document = Document.objects.create(
            organization=org,
            profile=profile,
            field=fields["document"],
            file="documents/on-file",
            name="old-bill.pdf",
            content_type="application/pdf",
            size=10,
        )
        apply_values(
            profile,
            [NewValue(fields[k], ON_FILE[k]) for k in TYPES]
            + [NewValue(fields["document"], str(document.uuid), document)],
            source="staff",
        )
    options: dict[str, Any] = {"kind": Dossier.Kind.CLASSIC}
    if kind == "update":
        with scopes_disabled():
            group = _group(org, fields)
            if group.review_required != review:
                group.review_required = review
                group.save(update_fields=["review_required"])
        options = {
            "kind": Dossier.Kind.UPDATE,
            "update_group_id": group.pk,
            "period": dt.date(2026, 1, 31),
        }
    dossier = factories.dossier(org, profile, list(fields.values()), **options)
    return {"profile": profile, "dossier": dossier, "token": factories.token(dossier)}


def _group(org: Any, fields: dict[str, Any]) -> Any:
    group_id = factories.group_id_of(fields["text"])
    if group_id is None:
        return factories.group(org, list(fields.values()))
    with scopes_disabled():
        return UpdateGroup.objects.get(pk=group_id)


def _post_data(fields: dict[str, Any], page: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"action": page["action"]}
    for kind in TYPES:
        key = fields[kind].uuid.hex
        if page["inputs"][kind] is not ABSENT:
            data[f"f_{key}"] = page["inputs"][kind]
        if page["confirm"][kind]:
            data[f"c_{key}"] = "on"  # a ticked box; an unticked one is absent
    for kind in [*TYPES, "document"]:
        if page["remove"][kind]:
            data[f"r_{fields[kind].uuid.hex}"] = "on"
    if page["confirm_all"]:
        data["confirm_all"] = "on"
    upload = {
        "pdf": SimpleUploadedFile("new bill.pdf", factories.PDF, "application/pdf"),
        "exe": SimpleUploadedFile("bill.pdf", factories.EXE, "application/pdf"),
        "empty": SimpleUploadedFile("empty.pdf", b"", "application/pdf"),
    }.get(page["document"])
    if upload is not None:
        data[f"f_{fields['document'].uuid.hex}"] = upload
    return data


def _snapshot(profile: Any) -> dict[int, tuple[Any, Any]]:
    with scopes_disabled():
        return {
            fv.field_id: (fv.value, fv.document.name if fv.document else None)
            for fv in FieldValue.objects.filter(profile=profile).select_related("document")
        }


def _history_ids(profile: Any) -> set[int]:
    with scopes_disabled():
        return set(FieldValueHistory.objects.filter(profile=profile).values_list("id", flat=True))


def _accepted(field: Any, typed: Any, language: str) -> Any:
    """The canonical value the field's own form field makes of what was typed, or a
    ValidationError: the only "valid new value" a door may write."""
    with translation.override(language):
        return fieldtypes.to_canonical(field, fieldtypes.form_field(field).clean(typed))


def _check_values_moved_only_as_allowed(
    fields: dict[str, Any],
    page: dict[str, Any],
    before: dict[int, tuple[Any, Any]],
    after: dict[int, tuple[Any, Any]],
    *,
    written: bool,
) -> set[int]:
    """Invariant 1. Returns the fields whose value changed."""
    changed = set()
    for kind, field in fields.items():
        old, new = before.get(field.pk), after.get(field.pk)
        if old == new:
            continue
        changed.add(field.pk)
        assert written, f"{kind}: changed by a door that writes nothing ({old} → {new})"
        if new is None:
            assert page["remove"][kind], f"{kind}: removed without the box that says so"
            continue
        if kind == "document":
            assert page["document"] == "pdf" and new[1] == "new_bill.pdf"
            continue
        typed = page["inputs"][kind]
        assert typed is not ABSENT, f"{kind}: changed though its input was absent"
        assert new[0] == _accepted(field, typed, page["language"]), (
            f"{kind}: {typed!r} became {new[0]!r}"
        )
    return changed


def _check_history(
    profile: Any, dossier: Any, rows_before: set[int], changed: set[int], approver: Any = None
) -> None:
    """Invariant 2: one row per change, naming the client, the approver and the dossier."""
    with scopes_disabled():
        rows = list(FieldValueHistory.objects.filter(profile=profile).exclude(id__in=rows_before))
    per_field: dict[int, list[Any]] = {}
    for row in rows:
        per_field.setdefault(row.field_id, []).append(row)
        assert row.source == "dossier" and row.dossier_uuid == dossier.uuid
        assert row.recipient_id == profile.pk and row.user_id is None
        assert row.approved_by_id == (approver.pk if approver else None)
    for field_id in changed:
        assert [r.kind for r in per_field.get(field_id, [])] == [HistoryKind.CHANGE]
    for field_id, field_rows in per_field.items():
        assert len(field_rows) == 1
        if field_id not in changed:
            assert field_rows[0].kind != HistoryKind.CHANGE or (
                field_rows[0].old_value == field_rows[0].new_value
            )


def _check_page(response: Any, fields: dict[str, Any], page: dict[str, Any], kind: str) -> None:
    """Invariant 4: a page that comes back says what is wrong where, and keeps the input."""
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        return
    form = response.context["form"]
    assert set(form.errors) <= {*form.fields, "__all__"}
    assert any(name != "__all__" for name in form.errors), form.errors
    for field_kind in TYPES:
        typed = page["inputs"][field_kind]
        name = f"f_{fields[field_kind].uuid.hex}"
        if isinstance(typed, str) and typed.strip() and field_kind not in ("choice", "boolean"):
            assert escape(typed) in response.text, f"{field_kind}: what was typed is lost"
        empty = typed is ABSENT or (isinstance(typed, str) and not typed.strip())
        if (
            page["action"] == "submit"
            and kind == "update"
            and empty
            and not page["remove"][field_kind]
        ):
            assert name in form.errors, f"{field_kind}: an empty answer was not refused by name"


DOORS = [("classic", False), ("update", False), ("update", True)]


@pytest.mark.parametrize(("kind", "review"), DOORS)
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(page=pages())
def test_the_portal_keeps_every_invariant(org, fields, kind, review, page):
    opened = _open(org, fields, kind=kind, review=review)
    profile, dossier = opened["profile"], opened["dossier"]
    before, rows_before = _snapshot(profile), _history_ids(profile)
    client = Client()
    client.cookies["django_language"] = page["language"]
    response = client.post(f"/d/{opened['token']}/", _post_data(fields, page))
    _check_page(response, fields, page, kind)
    submitted = response.status_code == 302 and page["action"] == "submit"
    changed = _check_values_moved_only_as_allowed(
        fields, page, before, _snapshot(profile), written=submitted and not review
    )
    _check_history(profile, dossier, rows_before, changed)
    with scopes_disabled():
        dossier.refresh_from_db()
        items = list(DossierItem.objects.filter(dossier=dossier).select_related("field"))
    # Nothing half-written: an invalid file is never kept, a submission refused is still open.
    assert not any(item.upload_name in ("bill.pdf", "empty.pdf") for item in items if item.upload)
    if response.status_code == 200:
        assert dossier.status in Dossier.OPEN_STATUSES
    if submitted:
        assert dossier.status == ("to_review" if review else "submitted")


# Review decisions


@st.composite
def answers(draw: Any) -> dict[str, Any]:
    """A submission the portal accepts: per item a new value, "still correct" or a removal."""
    page: dict[str, Any] = {
        "inputs": {},
        "confirm": {},
        "remove": {},
        "confirm_all": False,
        "action": "submit",
        "language": draw(st.sampled_from(["en", "fr"])),
    }
    new_values = {
        "text": st.sampled_from(["New employer", "<script>alert(1)</script>", "\u202eevil"]),
        "long_text": st.sampled_from(["One\nTwo", "x" * 4000]),
        "number": st.sampled_from(["7", "0", "-1"]),
        "date": st.dates(dt.date(1900, 1, 1), dt.date(2200, 12, 31)).map(dt.date.isoformat),
        "email": st.just("new@example.com"),
        "phone": st.just("+33 1 23 45 67 89"),
        "choice": st.just("high"),
        "boolean": st.just("false"),
    }
    for kind in TYPES:
        how = draw(st.sampled_from(["new", "confirm", "remove"]))
        page["inputs"][kind] = draw(new_values[kind]) if how == "new" else _prefilled(kind)
        page["confirm"][kind] = how == "confirm"
        page["remove"][kind] = how == "remove"
    how = draw(st.sampled_from(["pdf", "remove"]))
    page["document"] = "pdf" if how == "pdf" else "absent"
    page["remove"]["document"] = how == "remove"
    return page


def _submitted_for_review(org: Any, fields: dict[str, Any], page: dict[str, Any]) -> Any:
    opened = _open(org, fields, kind="update", review=True)
    client = Client()
    client.cookies["django_language"] = page["language"]
    response = client.post(f"/d/{opened['token']}/", _post_data(fields, page))
    assert response.status_code == 302, response.context["form"].errors
    return opened


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    page=answers(),
    decision=st.sampled_from(["approve_all", "unconfirmed", "forged", "approve_one", "send_back"]),
    picked=st.sampled_from([*TYPES, "document"]),
)
def test_review_decisions_keep_every_invariant(
    org, fields, member, member_client, page, decision, picked
):
    opened = _submitted_for_review(org, fields, page)
    profile, dossier = opened["profile"], opened["dossier"]
    before, rows_before = _snapshot(profile), _history_ids(profile)
    url = f"/o/{org.slug}/dossiers/{dossier.uuid}/"
    member_client.cookies["django_language"] = page["language"]
    decided: set[str] = set()
    if decision == "approve_all":
        shown = member_client.get(url + "approve/")
        assert shown.status_code == 200
        kinds = {c["item"].field_id: c["kind"] for c in shown.context["changes"]}
        for kind, field in fields.items():
            assert (kinds[field.pk] == "removal") == page["remove"][kind]
            if page["remove"][kind]:
                assert f'id="change-{field.uuid.hex}" class="removal"' in shown.text
        keys = [c["token"] for c in shown.context["changes"]]
        response = member_client.post(url + "approve/", {"confirm": "yes", "shown": keys})
        decided = set(fields)
    elif decision == "unconfirmed":
        response = member_client.post(url + "approve/")
        assert response.status_code == 200  # the page of what would change, nothing decided
    elif decision == "forged":
        response = member_client.post(
            url + "approve/", {"confirm": "yes", "shown": ["zz", "\x00", "1" * 500]}
        )
    elif decision == "approve_one":
        response = member_client.post(url + "approve/", {"item": fields[picked].uuid.hex})
        decided = {picked}
    else:
        response = member_client.post(
            url + "reject/", {"item": fields[picked].uuid.hex, "reason": "<b>Not this</b>"}
        )
    # A forged confirmation names nothing the page showed: refused as stale (409), nothing decided.
    assert response.status_code in ((409,) if decision == "forged" else (200, 302))
    after = _snapshot(profile)
    approved = {k: f for k, f in fields.items() if k in decided}
    changed = _check_values_moved_only_as_allowed(
        approved, page, before, after, written=bool(decided)
    )
    for kind, field in fields.items():
        if kind not in decided:
            assert after.get(field.pk) == before.get(field.pk), f"{kind}: changed undecided"
    _check_history(profile, dossier, rows_before, changed, approver=member if decided else None)
    with scopes_disabled():
        status = Dossier.objects.get(pk=dossier.pk).status
    if decision == "approve_all":
        assert status == "approved"
        for kind in decided:
            if page["remove"][kind]:
                assert fields[kind].pk not in after
    elif decision in ("unconfirmed", "forged"):
        assert status == "to_review"
