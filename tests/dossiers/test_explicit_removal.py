"""Issue 22: an absent or emptied answer is "not answered", never a removal; a removal is
said through its own box; a chosen file survives an error; "Approve all" shows and asks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem
from organizations.models import Membership
from profiles.models import FieldValue
from profiles.services import NewValue, apply_values
from tests import factories
from tests.conftest import make_member
from tests.dossiers.conftest import _confirm, _history, _name, _pdf, _reload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


def _remove(field) -> str:
    return f"r_{field.uuid.hex}"


@pytest.fixture
def employer(org):
    """An update dossier asking for a text field holding "Old employer" and a birth date."""
    text = factories.field(org, "text", label="Employer")
    born = factories.field(org, "date", label="Date of birth")
    profile = factories.contact(org, language="fr", email="client@example.com")
    with scopes_disabled():
        apply_values(
            profile,
            [NewValue(text, "Old employer"), NewValue(born, "1985-02-01")],
            source="staff",
        )
    group = factories.group(org, [text, born])
    dossier = factories.dossier(
        org,
        profile,
        [text, born],
        kind=Dossier.Kind.UPDATE,
        update_group_id=group.pk,
        period=dt.date(2026, 1, 31),
    )
    return {"text": text, "born": born, "profile": profile, "group": group, "dossier": dossier}


def _values(profile) -> dict[str, object]:
    with scopes_disabled():
        return {
            fv.field.label: fv.value
            for fv in FieldValue.objects.filter(profile=profile).select_related("field")
        }


def _in(language: str) -> Client:
    client = Client()
    client.cookies["django_language"] = language
    return client


# Observation 1: an absent or emptied answer erased the value.


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("typed", [None, "", "   ", "\t \u00a0"])
def test_an_absent_or_emptied_answer_is_refused_by_name_and_erases_nothing(
    employer, typed, language
):
    token = factories.token(employer["dossier"])
    data = {
        _name(employer["born"]): "1985-02-01",
        _confirm(employer["born"]): "on",
        "action": "submit",
    }
    if typed is not None:
        data[_name(employer["text"])] = typed
    response = _in(language).post(f"/d/{token}/", data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    message = " ".join(errors[_name(employer["text"])])
    assert ("Answer this item" if language == "en" else "Répondez à cette question") in message
    assert _name(employer["born"]) not in errors
    assert _reload(employer["dossier"]).status in Dossier.OPEN_STATUSES
    assert _values(employer["profile"]) == {
        "Employer": "Old employer",
        "Date of birth": "1985-02-01",
    }
    assert len(_history(employer["text"])) == 1


def test_the_still_correct_shortcut_does_not_turn_an_emptied_box_into_anything(employer):
    token = factories.token(employer["dossier"])
    response = Client().post(
        f"/d/{token}/",
        {
            _name(employer["text"]): "",
            _name(employer["born"]): "1985-02-01",
            "confirm_all": "on",
            "action": "submit",
        },
    )
    assert response.status_code == 200
    assert _name(employer["text"]) in response.context["form"].errors
    assert _values(employer["profile"])["Employer"] == "Old employer"


def test_a_draft_never_empties_an_answer_because_an_input_was_absent(employer):
    token = factories.token(employer["dossier"])
    client = Client()
    client.post(f"/d/{token}/", {_name(employer["text"]): "New employer", "action": "draft"})
    client.post(f"/d/{token}/", {_name(employer["born"]): "1985-02-01", "action": "draft"})
    with scopes_disabled():
        item = DossierItem.objects.get(field=employer["text"])
    assert item.answered and item.answer == "New employer"
    assert _values(employer["profile"])["Employer"] == "Old employer"


# Observation 2: an impossible date arrives empty (Chrome's badInput, `novalidate` forms).


def test_an_impossible_date_sent_empty_in_french_is_refused_and_approve_all_erases_nothing(
    employer, member_client, org
):
    factories.set_review(employer["group"])
    token = factories.token(employer["dossier"])
    # 31/02/1985 typed in Chrome: the date input posts an empty value.
    response = _in("fr").post(
        f"/d/{token}/",
        {
            _name(employer["text"]): "New employer",
            _name(employer["born"]): "",
            "confirm_all": "on",
            "action": "submit",
        },
    )
    assert response.status_code == 200
    assert "Répondez à cette question" in " ".join(
        response.context["form"].errors[_name(employer["born"])]
    )
    assert 'value="New employer"' in response.text
    assert _reload(employer["dossier"]).status in Dossier.OPEN_STATUSES
    # Even were it submitted, "Approve all" without its confirmation decides nothing.
    response = _in("fr").post(
        f"/d/{token}/",
        {
            _name(employer["text"]): "New employer",
            _name(employer["born"]): "1985-02-01",
            _confirm(employer["born"]): "on",
            "action": "submit",
        },
    )
    assert response.status_code == 302
    assert _reload(employer["dossier"]).status == "to_review"
    url = f"/o/{org.slug}/dossiers/{employer['dossier'].uuid}/approve/"
    response = member_client.post(url)
    assert response.status_code == 200
    assert _reload(employer["dossier"]).status == "to_review"
    assert _values(employer["profile"]) == {
        "Employer": "Old employer",
        "Date of birth": "1985-02-01",
    }
    assert "Old employer" in response.text and "New employer" in response.text


# Explicit removal: only the box that says so removes a value.


@pytest.mark.parametrize("typed", ["Old employer", ""])
def test_the_no_longer_applies_box_removes_the_value_and_the_history_says_by_whom(employer, typed):
    token = factories.token(employer["dossier"])
    page = Client().get(f"/d/{token}/")
    assert _remove(employer["text"]) in page.text
    response = Client().post(
        f"/d/{token}/",
        {
            _name(employer["text"]): typed,
            _remove(employer["text"]): "on",
            _name(employer["born"]): "1985-02-01",
            _confirm(employer["born"]): "on",
            "action": "submit",
        },
    )
    assert response.status_code == 302
    assert "Employer" not in _values(employer["profile"])
    removal = _history(employer["text"])[-1]
    assert (removal.old_value, removal.new_value) == ("Old employer", None)
    assert removal.source == "dossier" and removal.recipient == employer["profile"]
    assert removal.user is None
    # The client's page after sending says what they asked, in their language.
    summary = Client().get(f"/d/{token}/").text
    assert "Ne s\u2019applique plus — vous avez demandé sa suppression" in summary


def test_a_removal_and_a_new_value_together_are_refused_on_the_field(employer):
    token = factories.token(employer["dossier"])
    response = Client().post(
        f"/d/{token}/",
        {
            _name(employer["text"]): "New employer",
            _remove(employer["text"]): "on",
            _confirm(employer["born"]): "on",
            _name(employer["born"]): "1985-02-01",
            "action": "submit",
        },
    )
    assert response.status_code == 200
    assert _name(employer["text"]) in response.context["form"].errors
    assert _values(employer["profile"])["Employer"] == "Old employer"


def test_no_removal_box_where_nothing_is_on_file(org):
    text = factories.field(org, "text", label="Employer")
    profile = factories.contact(org)
    dossier = factories.dossier(org, profile, [text])
    token = factories.token(dossier)
    assert _remove(text) not in Client().get(f"/d/{token}/").text
    response = Client().post(f"/d/{token}/", {_remove(text): "on", "action": "submit"})
    assert response.status_code == 302
    with scopes_disabled():
        assert not FieldValue.objects.exists()


def test_a_removal_is_shown_to_staff_as_such_and_approved_as_such(employer, member_client, org):
    factories.set_review(employer["group"])
    token = factories.token(employer["dossier"])
    Client().post(
        f"/d/{token}/",
        {
            _remove(employer["text"]): "on",
            _name(employer["born"]): "1985-02-01",
            _confirm(employer["born"]): "on",
            "action": "submit",
        },
    )
    assert _reload(employer["dossier"]).status == "to_review"
    url = f"/o/{org.slug}/dossiers/{employer['dossier'].uuid}/"
    page = member_client.get(url)
    assert "Remove this value" in page.text and "Approve the removal" in page.text
    confirm = member_client.get(url + "approve/")
    assert confirm.status_code == 200
    assert 'class="removal' in confirm.text and "Old employer" in confirm.text
    assert _values(employer["profile"])["Employer"] == "Old employer"
    keys = [change["token"] for change in confirm.context["changes"]]
    response = member_client.post(url + "approve/", {"confirm": "yes", "shown": keys})
    assert response.status_code == 302
    assert _reload(employer["dossier"]).status == "approved"
    assert "Employer" not in _values(employer["profile"])
    assert _history(employer["text"])[-1].new_value is None


# Classic dossiers keep their "required" rule; an emptied box is left unanswered.


def test_in_a_classic_dossier_an_emptied_optional_item_is_left_unanswered(org):
    text = factories.field(org, "text", label="Employer")
    required = factories.field(org, "text", label="Title", required=True)
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(
            profile, [NewValue(text, "Old employer"), NewValue(required, "Dr")], source="staff"
        )
    dossier = factories.dossier(org, profile, [text, required])
    token = factories.token(dossier)
    response = Client().post(
        f"/d/{token}/", {_name(text): "", _name(required): " ", "action": "submit"}
    )
    assert response.status_code == 200
    assert list(response.context["form"].errors) == [_name(required), "__all__"]
    response = Client().post(
        f"/d/{token}/", {_name(text): "", _name(required): "Prof", "action": "submit"}
    )
    assert response.status_code == 302
    assert _values(profile) == {"Employer": "Old employer", "Title": "Prof"}
    assert len(_history(text)) == 1


# Observation 8: the files a client chose are lost when the page comes back with an error.


def test_a_chosen_file_is_kept_as_a_draft_upload_when_the_page_comes_back_with_an_error(kyc):
    token = factories.token(kyc["dossier"])
    response = Client().post(
        f"/d/{token}/",
        # The job title left as it was, without "Still correct": an error elsewhere.
        {
            _name(kyc["job"]): "Baker",
            _name(kyc["proof"]): _pdf("phone-photo.pdf"),
            "action": "submit",
        },
    )
    assert response.status_code == 200
    assert _name(kyc["job"]) in response.context["form"].errors
    assert "phone-photo.pdf, chosen — choose another to replace it" in response.text
    with scopes_disabled():
        item = DossierItem.objects.get(field=kyc["proof"])
    assert item.upload and item.upload_name == "phone-photo.pdf"
    # The client corrects the other field only: the file chosen before is the answer.
    response = Client().post(f"/d/{token}/", {_name(kyc["job"]): "Chef", "action": "submit"})
    assert response.status_code == 302
    assert _history(kyc["proof"])[-1].new_document.name == "phone-photo.pdf"


def test_an_invalid_upload_is_not_kept(kyc):
    from django.core.files.uploadedfile import SimpleUploadedFile

    token = factories.token(kyc["dossier"])
    response = Client().post(
        f"/d/{token}/",
        {
            _name(kyc["job"]): "",
            _name(kyc["proof"]): SimpleUploadedFile("x.pdf", factories.EXE, "application/pdf"),
            "action": "submit",
        },
    )
    assert response.status_code == 200
    assert _name(kyc["proof"]) in response.context["form"].errors
    with scopes_disabled():
        assert not DossierItem.objects.get(field=kyc["proof"]).upload


def test_the_history_page_shows_the_clients_removal(employer, member_client, org):
    token = factories.token(employer["dossier"])
    Client().post(
        f"/d/{token}/",
        {
            _remove(employer["text"]): "on",
            _name(employer["born"]): "1985-02-01",
            _confirm(employer["born"]): "on",
            "action": "submit",
        },
    )
    page = member_client.get(f"/o/{org.slug}/profiles/{employer['profile'].uuid}/history/")
    assert page.status_code == 200
    [row] = [
        r for r in page.context["page"] if r.field_id == employer["text"].pk and r.dossier_uuid
    ]
    assert (row.old_display, row.new_display) == ("Old employer", "")
    assert row.recipient == employer["profile"] and row.source == "dossier"
    assert employer["profile"].display_name in page.text


def test_a_removal_never_erases_a_value_staff_changed_since_the_request(employer, member):
    token = factories.token(employer["dossier"])
    with scopes_disabled():
        apply_values(
            employer["profile"],
            [NewValue(employer["text"], "Newer employer")],
            source="staff",
            user=member,
        )
    response = Client().post(
        f"/d/{token}/",
        {
            _remove(employer["text"]): "on",
            _name(employer["born"]): "1985-02-01",
            _confirm(employer["born"]): "on",
            "action": "submit",
        },
    )
    assert response.status_code == 302
    assert _values(employer["profile"])["Employer"] == "Newer employer"
    assert [h.new_value for h in _history(employer["text"])] == ["Old employer", "Newer employer"]


def test_a_removal_sent_back_cannot_be_asked_again_unchanged(employer, member_client, org):
    factories.set_review(employer["group"])
    token = factories.token(employer["dossier"])
    born = {_name(employer["born"]): "1985-02-01", _confirm(employer["born"]): "on"}
    Client().post(f"/d/{token}/", {_remove(employer["text"]): "on", **born, "action": "submit"})
    url = f"/o/{org.slug}/dossiers/{employer['dossier'].uuid}/"
    member_client.post(
        url + "reject/", {"item": employer["text"].uuid.hex, "reason": "You still work there"}
    )
    member_client.post(url + "approve/", {"item": employer["born"].uuid.hex})
    assert _reload(employer["dossier"]).status == "changes_requested"
    page = Client().get(f"/d/{token}/")
    assert 'value="Old employer"' in page.text  # the value on file, not an empty box
    response = Client().post(
        f"/d/{token}/",
        {
            _name(employer["text"]): "Old employer",
            _remove(employer["text"]): "on",
            "action": "submit",
        },
    )
    assert response.status_code == 200
    assert _name(employer["text"]) in response.context["form"].errors
    response = Client().post(
        f"/d/{token}/",
        {
            _name(employer["text"]): "Old employer",
            _confirm(employer["text"]): "on",
            "action": "submit",
        },
    )
    assert response.status_code == 302
    assert _reload(employer["dossier"]).status == "to_review"
    assert _values(employer["profile"])["Employer"] == "Old employer"


def test_a_required_fields_value_cannot_be_removed(org):
    title = factories.field(org, "text", label="Title", required=True)
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(title, "Dr")], source="staff")
    dossier = factories.dossier(org, profile, [title])
    token = factories.token(dossier)
    assert _remove(title) not in Client().get(f"/d/{token}/").text
    response = Client().post(
        f"/d/{token}/", {_name(title): "Dr", _remove(title): "on", "action": "submit"}
    )
    assert response.status_code == 302
    assert _values(profile) == {"Title": "Dr"}


def test_approve_all_approves_only_what_its_page_showed(employer, member_client, org):
    """Member A's page showed "Old employer → New employer"; meanwhile a colleague sent it
    back and the client answered "no longer applies". A's confirmation approves nothing
    and shows the page again as it now is: a removal is never approved unseen."""
    factories.set_review(employer["group"])
    text, born = employer["text"], employer["born"]
    token = factories.token(employer["dossier"])
    url = f"/o/{org.slug}/dossiers/{employer['dossier'].uuid}/"
    answered = Client().post(
        f"/d/{token}/",
        {
            f"f_{text.uuid.hex}": "New employer",
            f"f_{born.uuid.hex}": "1985-02-01",
            f"c_{born.uuid.hex}": "on",
            "action": "submit",
        },
    )
    assert answered.status_code == 302
    page = member_client.get(url + "approve/")
    shown = [change["token"] for change in page.context["changes"]]
    colleague = Client()
    colleague.force_login(make_member(org, "colleague", Membership.Role.STAFF))
    colleague.post(url + "reject/", {"item": text.uuid.hex, "reason": "Spelling"})
    colleague.post(url + "approve/", {"item": born.uuid.hex})
    removal = Client().post(f"/d/{token}/", {f"r_{text.uuid.hex}": "on", "action": "submit"})
    assert removal.status_code == 302
    assert _reload(employer["dossier"]).status == Dossier.Status.TO_REVIEW

    stale = member_client.post(url + "approve/", {"confirm": "yes", "shown": shown})
    assert stale.status_code == 409
    assert [c["kind"] for c in stale.context["changes"]] == ["removal"]
    assert _values(employer["profile"])["Employer"] == "Old employer"
    assert _reload(employer["dossier"]).status == Dossier.Status.TO_REVIEW
