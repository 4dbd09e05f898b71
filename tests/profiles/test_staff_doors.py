"""Door invariants (DESIGN.md) at the staff values form and at the history restore.

Posted as the browser sends it, in French and in English: a value on file changes only to a
valid new value or by its explicit "Remove this value"; each change appends one history row
naming the member and the door; no input yields a 500; an error sits on its field and the
page keeps what was typed.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils.html import escape
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from profiles import fieldtypes
from profiles.models import DataField, FieldValue, FieldValueHistory, Source
from profiles.services import NewValue, apply_values, new_document, store_file
from tests import factories

pytestmark = pytest.mark.django_db

ABSENT = object()
EMPTY = ["", " ", "\t", "\n", "\u00a0"]
IMPOSSIBLE = ["2025-02-31", "2027-02-29", "24:00", "31/02/2035", "2035-13-01", "0000-00-00"]
OUT_OF_RANGE = ["0001-01-01", "1899-12-31", "2201-01-01", "9999-12-31"]
HOSTILE = [
    "x" * 6000,
    "a\x00b",
    "<script>alert(1)</script>",
    "\u202eevil\u202c",
    "' OR 1=1 --",
    "1e999",
    "NaN",
    "-0",
]
VALID = {
    "text": ["New employer", "  padded  ", "Zoë « quoted »"],
    "long_text": ["Line 1\r\nLine 2", "x" * 5000],
    "number": ["42", "-0.5", "1 234,5", "1,234.5", "0"],
    "date": ["1990-05-17", "2024-02-29", "1900-01-01", "2200-12-31"],
    "email": ["new@example.com"],
    "phone": ["+33 6 12 34 56 78"],
    "choice": ["Red", "Blue"],
    "boolean": ["true", "false"],
}
ON_FILE = {
    "text": "Old employer",
    "long_text": "Old\nnotes",
    "number": "1234.5",
    "date": "2034-03-01",
    "email": "old@example.com",
    "phone": "+33 1 23 45 67 89",
    "choice": "Blue",
    "boolean": True,
}


def typed_values(type_: str) -> st.SearchStrategy[object]:
    return st.one_of(
        st.just(ABSENT),
        st.sampled_from(EMPTY + IMPOSSIBLE + OUT_OF_RANGE + HOSTILE + VALID[type_]),
        st.text(max_size=30),
    )


def _url(org, profile):
    return f"/o/{org.slug}/profiles/{profile.uuid}/values/"


def _field(org, type_, **extra):
    """One field per test, whatever the number of examples: the form stays one field long."""
    with scopes_disabled():
        found = DataField.objects.filter(organization=org, type=type_).first()
    return found or factories.field(org, type_, **extra)


def _with_value(org, field, on_file, owner):
    profile = factories.contact(org)
    if on_file is not None:
        with scopes_disabled():
            apply_values(profile, [NewValue(field, on_file)], source=Source.STAFF, user=owner)
    return profile


def _state(profile, field):
    with scopes_disabled():
        value = FieldValue.objects.filter(profile=profile, field=field).first()
        rows = list(FieldValueHistory.objects.filter(profile=profile, field=field).order_by("id"))
    return (value.value if value else None), rows


def _is_valid(field, stored) -> bool:
    form_field = fieldtypes.form_field(field, required=True)
    try:
        cleaned = form_field.clean(fieldtypes.to_initial(field, stored))
    except Exception:
        return False
    return fieldtypes.to_canonical(field, cleaned) == stored


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("type_", sorted(VALID))
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_staff_form_changes_a_value_only_to_a_valid_one_or_by_removal(
    member_client, member, owner, org, language, type_, data
):
    extra = {"choices": ["Red", "Blue"]} if type_ == "choice" else {}
    field = _field(org, type_, **extra)
    on_file = data.draw(st.sampled_from([ON_FILE[type_], None]), label="on file")
    typed = data.draw(typed_values(type_), label="typed")
    remove = data.draw(st.booleans(), label="remove")
    profile = _with_value(org, field, on_file, owner)
    _, rows_before = _state(profile, field)
    name, removal = f"f_{field.uuid.hex}", f"r_{field.uuid.hex}"
    # A browser always sends the CSRF token: the form is bound even if nothing else is sent.
    post = {"csrfmiddlewaretoken": "token"}
    if typed is not ABSENT:
        post[name] = typed
    if remove:
        post[removal] = "on"
    member_client.cookies["django_language"] = language

    response = member_client.post(_url(org, profile), post)

    assert response.status_code in {200, 302}
    value, rows = _state(profile, field)
    new_rows = rows[len(rows_before) :]
    if remove and on_file is not None:
        assert response.status_code == 302
        assert value is None
        assert [(r.old_value, r.new_value) for r in new_rows] == [(on_file, None)]
    elif response.status_code == 200:
        # Refused: on the field, nothing written, and what was typed is in the page.
        assert list(response.context["form"].errors) == [name]
        assert (value, new_rows) == (on_file, [])
        shown_as_typed = type_ not in {"choice", "boolean"}  # a select shows its choices
        if shown_as_typed and isinstance(typed, str) and typed.strip() and typed.isprintable():
            assert escape(typed) in response.text
    else:
        # Accepted: the value on file stays, or becomes a valid one; never removed.
        assert value is not None or on_file is None
        if value != on_file:
            assert _is_valid(field, value)
            assert [(r.old_value, r.new_value) for r in new_rows] == [(on_file, value)]
        else:
            assert new_rows == []
    for row in new_rows:
        assert (row.source, row.user, row.kind) == (Source.STAFF, member, "change")


UPLOADS = {
    "pdf": (factories.PDF, True),
    "png": (factories.PNG, True),
    "empty": (b"", False),
    "exe": (factories.EXE, False),
    "header only": (b"%PDF-1.4\n", None),  # refused once documents are checked by structure
    "random": (b"\x00\x01garbage" * 10, False),
}


@pytest.mark.parametrize("language", ["fr", "en"])
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    upload=st.sampled_from([None, *UPLOADS]),
    remove=st.booleans(),
    on_file=st.booleans(),
)
def test_the_staff_form_replaces_a_document_only_by_an_upload_or_removes_it_when_asked(
    member_client, member, owner, org, language, upload, remove, on_file
):
    field = _field(org, "document", accepted_types=["pdf", "png"])
    profile = factories.contact(org)
    document = None
    if on_file:
        with scopes_disabled():
            stored = store_file(
                SimpleUploadedFile("id.pdf", factories.PDF),
                name="id.pdf",
                content_type="application/pdf",
            )
            document = new_document(profile, field, stored)
            apply_values(profile, [NewValue(field, str(document.uuid), document)], source="staff")
    before, rows_before = _state(profile, field)
    post: dict[str, object] = {"csrfmiddlewaretoken": "token"}
    if upload is not None:
        post[f"f_{field.uuid.hex}"] = SimpleUploadedFile(f"{upload}.pdf", UPLOADS[upload][0])
    if remove:
        post[f"r_{field.uuid.hex}"] = "on"
    member_client.cookies["django_language"] = language

    response = member_client.post(_url(org, profile), post)

    value, rows = _state(profile, field)
    new_rows = rows[len(rows_before) :]
    if remove and on_file:
        assert value is None
        assert [(r.old_document_id, r.new_value) for r in new_rows] == [(document.pk, None)]
    elif response.status_code == 200:
        assert list(response.context["form"].errors) == [f"f_{field.uuid.hex}"]
        assert UPLOADS[upload][1] is not True
        assert (value, new_rows) == (before, [])
    else:
        assert response.status_code == 302
        if upload is None:
            assert (value, new_rows) == (before, [])
        else:
            assert UPLOADS[upload][1] is not False
            assert value is not None and value != before
            assert len(new_rows) == 1
    for row in new_rows:
        assert (row.source, row.user) == (Source.STAFF, member)


@pytest.mark.parametrize("type_", sorted(VALID))
def test_a_restore_puts_back_the_earlier_value_of_every_type(member_client, member, org, type_):
    extra = {"choices": ["Red", "Blue"]} if type_ == "choice" else {}
    field = factories.field(org, type_, **extra)
    profile = factories.contact(org)
    earlier = ON_FILE[type_]
    later = {"boolean": False, "choice": "Red"}.get(type_, VALID[type_][0])
    if type_ in {"number", "boolean", "date"}:
        later = {"number": "42", "boolean": False, "date": "1990-05-17"}[type_]
    with scopes_disabled():
        apply_values(profile, [NewValue(field, earlier)], source=Source.DOSSIER)
        [change] = apply_values(profile, [NewValue(field, later)], source=Source.DOSSIER)
    url = f"/o/{org.slug}/profiles/{profile.uuid}/history/{change.pk}/restore/"
    assert member_client.get(url).status_code == 200
    assert member_client.post(url).status_code == 302
    value, rows = _state(profile, field)
    assert value == earlier
    assert [(r.old_value, r.new_value, r.source, r.user) for r in rows[2:]] == [
        (later, earlier, Source.STAFF, member)
    ]
