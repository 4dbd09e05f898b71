"""History restore: the way back from a mistaken change or approval (issue 22)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scopes_disabled

from organizations.models import AuditEntry
from profiles.models import FieldValue, FieldValueHistory, Source
from profiles.services import NewValue, apply_values, new_document, store_file
from tests import factories

pytestmark = pytest.mark.django_db


def _set(profile, field, value, **kwargs):
    with scopes_disabled():
        return apply_values(profile, [NewValue(field, value)], source=Source.DOSSIER, **kwargs)


def _restore_url(org, profile, row):
    return f"/o/{org.slug}/profiles/{profile.uuid}/history/{row.pk}/restore/"


def _restored_entries():
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action="profiles.value.restored"))


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_mistaken_change_is_undone_after_a_confirmation(
    member_client, member, owner_client, org, language
):
    field = factories.field(org, "text", label="Employer")
    profile = factories.contact(org)
    _set(profile, field, "Old employer")
    [mistake] = _set(profile, field, "Wrong employer")
    member_client.cookies["django_language"] = language
    history = member_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/history/")
    assert _restore_url(org, profile, mistake) in history.text

    confirmation = member_client.get(_restore_url(org, profile, mistake))
    assert confirmation.status_code == 200
    assert "Old employer" in confirmation.text and "Wrong employer" in confirmation.text
    with scopes_disabled():
        assert FieldValue.objects.get().value == "Wrong employer"  # a GET changes nothing

    response = member_client.post(_restore_url(org, profile, mistake))
    assert response.status_code == 302
    with scopes_disabled():
        assert FieldValue.objects.get().value == "Old employer"
        row = FieldValueHistory.objects.latest("id")
    assert (row.old_value, row.new_value) == ("Wrong employer", "Old employer")
    assert (row.source, row.user, row.kind) == ("staff", member, "change")
    [entry] = _restored_entries()
    assert entry.user == member
    assert entry.details["after"] == "Old employer"
    assert entry.details["before"] == "Wrong employer"
    owner_client.cookies["django_language"] = language
    log = owner_client.get(f"/o/{org.slug}/settings/audit/")
    assert log.status_code == 200
    assert {"fr": "Valeur antérieure restaurée", "en": "Earlier value restored"}[language] in (
        log.text
    )


def test_restoring_the_value_on_file_says_nothing_changed(member_client, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    _set(profile, field, "A")
    [change] = _set(profile, field, "B")
    _set(profile, field, "A")
    response = member_client.post(_restore_url(org, profile, change), follow=True)
    assert "Nothing changed." in response.text
    with scopes_disabled():
        assert FieldValueHistory.objects.count() == 3
    assert not _restored_entries()


def test_a_document_is_restored_with_its_file(member_client, org):
    field = factories.field(org, "document", accepted_types=["pdf"])
    profile = factories.contact(org)
    documents = []
    with scopes_disabled():
        for name in ("first.pdf", "second.pdf"):
            stored = store_file(
                SimpleUploadedFile(name, factories.PDF), name=name, content_type="application/pdf"
            )
            document = new_document(profile, field, stored)
            documents.append(document)
            rows = apply_values(
                profile, [NewValue(field, str(document.uuid), document)], source=Source.STAFF
            )
    [replacement] = rows
    assert member_client.post(_restore_url(org, profile, replacement)).status_code == 302
    with scopes_disabled():
        value = FieldValue.objects.get()
    assert value.document_id == documents[0].pk
    assert value.value == str(documents[0].uuid)


def test_a_change_that_created_the_value_has_nothing_to_restore(member_client, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    [creation] = _set(profile, field, "A")
    history = member_client.get(f"/o/{org.slug}/profiles/{profile.uuid}/history/")
    assert _restore_url(org, profile, creation) not in history.text
    assert member_client.post(_restore_url(org, profile, creation)).status_code == 404
    with scopes_disabled():
        assert FieldValue.objects.get().value == "A"


def test_a_choice_taken_off_the_list_is_not_restored(member_client, org):
    field = factories.field(org, "choice", choices=["Red", "Blue"])
    profile = factories.contact(org)
    _set(profile, field, "Red")
    [change] = _set(profile, field, "Blue")
    with scopes_disabled():
        field.choices = ["Blue", "Green"]
        field.save()
    response = member_client.post(_restore_url(org, profile, change))
    assert response.status_code == 422
    assert response.context["refusal"]
    with scopes_disabled():
        assert FieldValue.objects.get().value == "Blue"
    assert not _restored_entries()


def test_another_organisations_history_row_is_a_404(outsider_client, other_org, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    _set(profile, field, "A")
    [change] = _set(profile, field, "B")
    assert outsider_client.post(_restore_url(org, profile, change)).status_code == 404
    assert outsider_client.post(_restore_url(other_org, profile, change)).status_code == 404
    # A row of another profile of the same organisation is not reachable through this one.
    other = factories.contact(org, email="other@example.com")
    assert outsider_client.get(_restore_url(other_org, other, change)).status_code == 404
    with scopes_disabled():
        assert FieldValue.objects.get().value == "B"
    assert not _restored_entries()


def test_a_row_is_restored_only_through_its_own_profile(member_client, org):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    other = factories.contact(org, email="other@example.com")
    _set(profile, field, "A")
    [change] = _set(profile, field, "B")
    assert member_client.post(_restore_url(org, other, change)).status_code == 404
