from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from profiles.models import FieldValue, FieldValueHistory
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db

GOOD_AND_BAD = [
    ("text", "Hello", "Hello", "x" * 501),
    ("long_text", "Line 1\nLine 2", "Line 1\nLine 2", "x" * 5001),
    ("number", "1234.50", "1234.50", "12abc"),
    ("number", "-0.001", "-0.001", "1" * 30),
    ("date", "2024-02-29", "2024-02-29", "2023-02-29"),
    ("email", "a@example.com", "a@example.com", "not-an-email"),
    ("phone", "+33 6 12 34 56 78", "+33 6 12 34 56 78", "<script>"),
    ("choice", "Blue", "Blue", "Purple"),
    ("boolean", "true", True, "maybe"),
]


def _values_url(org, profile):
    return f"/o/{org.slug}/profiles/{profile.uuid}/values/"


def _name(field):
    return f"f_{field.uuid.hex}"


@pytest.mark.parametrize(("type_", "good", "stored", "bad"), GOOD_AND_BAD)
def test_each_type_accepts_good_input_and_refuses_bad(
    owner_client, org, owner, type_, good, stored, bad
):
    extra = {"choices": ["Red", "Blue"]} if type_ == "choice" else {}
    field = factories.field(org, type_, **extra)
    profile = factories.contact(org)

    response = owner_client.post(_values_url(org, profile), {_name(field): bad})
    assert response.status_code == 200
    assert response.context["form"].errors[_name(field)]
    with scopes_disabled():
        assert not FieldValue.objects.filter(profile=profile).exists()

    response = owner_client.post(_values_url(org, profile), {_name(field): good})
    assert response.status_code == 302
    with scopes_disabled():
        assert FieldValue.objects.get(profile=profile, field=field).value == stored


def test_a_bad_field_saves_nothing_of_the_form(owner_client, org, owner):
    text = factories.field(org, "text")
    number = factories.field(org, "number")
    profile = factories.contact(org)
    response = owner_client.post(
        _values_url(org, profile), {_name(text): "kept on the page", _name(number): "NaN"}
    )
    assert response.status_code == 200
    assert "kept on the page" in response.text
    with scopes_disabled():
        assert not FieldValue.objects.exists()
        assert not FieldValueHistory.objects.exists()


def test_every_change_appends_history_and_unchanged_values_do_not(owner_client, org, owner):
    text = factories.field(org, "text")
    other = factories.field(org, "text")
    profile = factories.contact(org)
    url = _values_url(org, profile)
    owner_client.post(url, {_name(text): "first", _name(other): "same"})
    owner_client.post(url, {_name(text): "second", _name(other): "same"})
    owner_client.post(url, {_name(text): "", _name(other): "same"})  # refused: not a removal
    removal = {_name(text): "second", f"r_{text.uuid.hex}": "on", _name(other): "same"}
    owner_client.post(url, removal)
    with scopes_disabled():
        rows = list(FieldValueHistory.objects.filter(field=text).order_by("id"))
        assert [(r.old_value, r.new_value) for r in rows] == [
            (None, "first"),
            ("first", "second"),
            ("second", None),
        ]
        assert all(r.source == "staff" and r.user == owner for r in rows)
        assert FieldValueHistory.objects.filter(field=other).count() == 1
        assert not FieldValue.objects.filter(field=text).exists()


def test_the_history_page_shows_old_and_new_values(owner_client, org, owner):
    text = factories.field(org, "text", label="Job")
    profile = factories.contact(org)
    owner_client.post(_values_url(org, profile), {_name(text): "Baker"})
    owner_client.post(_values_url(org, profile), {_name(text): "Pilot"})
    response = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/history/?field={text.uuid}")
    assert response.status_code == 200
    assert "Baker" in response.text and "Pilot" in response.text


def test_a_document_is_uploaded_downloaded_and_kept_when_replaced(owner_client, org, owner):
    doc_field = factories.field(org, "document", label="Proof")
    profile = factories.contact(org)
    url = _values_url(org, profile)
    first = SimpleUploadedFile("../../etc/passwd proof.pdf", factories.PDF, "text/plain")
    assert owner_client.post(url, {_name(doc_field): first}).status_code == 302
    second = SimpleUploadedFile("scan.png", factories.PNG, "image/png")
    assert owner_client.post(url, {_name(doc_field): second}).status_code == 302

    with scopes_disabled():
        value = FieldValue.objects.select_related("document").get(profile=profile)
        history = list(FieldValueHistory.objects.filter(profile=profile).order_by("id"))
    assert value.document.name == "scan.png"
    assert value.document.content_type == "image/png"
    old = history[1].old_document
    assert old.name == "passwd_proof.pdf"
    assert "passwd" not in old.file.name and "proof" not in old.file.name  # keys reveal nothing

    response = owner_client.get(f"/o/{org.slug}/documents/{old.uuid}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == factories.PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_another_organisation_cannot_download_a_document(
    owner_client, outsider_client, org, other_org, owner
):
    doc_field = factories.field(org, "document")
    profile = factories.contact(org)
    upload = SimpleUploadedFile("a.pdf", factories.PDF)
    owner_client.post(_values_url(org, profile), {_name(doc_field): upload})
    with scopes_disabled():
        document = FieldValue.objects.get().document
    assert outsider_client.get(f"/o/{org.slug}/documents/{document.uuid}/").status_code == 404
    assert outsider_client.get(f"/o/{other_org.slug}/documents/{document.uuid}/").status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("virus.pdf", factories.EXE, "not of an accepted type"),
        ("empty.pdf", b"", "empty"),
        ("big.pdf", factories.PDF + b"0" * (1024 * 1024 + 1), "too large"),
        ("page.pdf", b"<html><script>alert(1)</script></html>", "not of an accepted type"),
    ],
)
def test_bad_uploads_are_refused_on_their_field(owner_client, org, owner, name, content, message):
    doc_field = factories.field(org, "document", max_size_mb=1)
    text = factories.field(org, "text")
    profile = factories.contact(org)
    response = owner_client.post(
        _values_url(org, profile),
        {_name(doc_field): SimpleUploadedFile(name, content, "application/pdf"), _name(text): "x"},
    )
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors[_name(doc_field)])
    assert message in errors
    with scopes_disabled():
        assert not FieldValue.objects.exists()


def test_script_in_text_is_stored_and_shown_escaped(owner_client, org, owner):
    text = factories.field(org, "text")
    profile = factories.contact(org)
    owner_client.post(_values_url(org, profile), {_name(text): "<script>alert(1)</script>"})
    response = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/")
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_the_profile_page_shows_expiry_badges(owner_client, org, owner):
    import datetime as dt

    from django.utils import timezone

    text = factories.field(org, "text", label="Passport")
    profile = factories.contact(org)
    with scopes_disabled():
        FieldValue.objects.create(
            organization=org,
            profile=profile,
            field=text,
            value="X1",
            expires_on=timezone.localdate() - dt.timedelta(days=1),
        )
    response = owner_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/")
    assert "Expired on" in response.text


def test_an_empty_value_is_never_a_removal_unless_said_so(org) -> None:
    """The last line of defence behind every door: None alone is refused before any write."""
    from profiles.services import ImplicitRemoval

    field = factories.field(org, "text", label="Employer")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(field, "Old employer")], source="staff")
        with pytest.raises(ImplicitRemoval):
            apply_values(profile, [NewValue(field, None)], source="staff")
        assert FieldValue.objects.get(profile=profile, field=field).value == "Old employer"
        rows = apply_values(profile, [NewValue(field, None, remove=True)], source="staff")
        assert [(r.old_value, r.new_value) for r in rows] == [("Old employer", None)]
        assert not FieldValue.objects.filter(profile=profile, field=field).exists()
