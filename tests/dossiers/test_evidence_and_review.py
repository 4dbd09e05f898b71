"""Fresh evidence, staff review before write-back, and answers that say who gave them."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation
from django_scopes import scopes_disabled

from dossiers.models import Dossier, DossierItem, DossierRecord
from dossiers.retention import purge_dossiers
from dossiers.review import UNDO_GRACE
from monitoring.expiry import open_dossiers_for_expired_values
from organizations.models import AuditEntry, Membership
from outbox.mail import send_due
from profiles.models import Document, FieldValue
from profiles.services import NewValue, apply_values
from tests import factories
from tests.dossiers.conftest import (
    _confirm,
    _history,
    _name,
    _pdf,
    _reload,
    _value,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


# Fresh answers


def test_a_document_answered_with_the_file_on_file_is_refused(client, kyc):
    token = factories.token(kyc["dossier"])
    page = client.get(f"/d/{token}/")
    assert "Currently on file" in page.text and "old-bill.pdf" in page.text
    response = client.post(
        f"/d/{token}/",
        {_name(kyc["job"]): "Chef", "action": "submit"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "the one on file does not count" in " ".join(errors[_name(kyc["proof"])])
    assert 'value="Chef"' in response.text  # what was typed stays on the page
    assert _reload(kyc["dossier"]).status == "opened"
    assert _value(kyc["job"]).value == "Baker"
    assert len(_history(kyc["job"])) == 1


def test_an_unchanged_value_needs_a_confirmation(client, kyc):
    token = factories.token(kyc["dossier"])
    response = client.post(
        f"/d/{token}/",
        {_name(kyc["job"]): "Baker", _name(kyc["proof"]): _pdf(), "action": "submit"},
    )
    assert response.status_code == 200
    assert "Still correct" in " ".join(response.context["form"].errors[_name(kyc["job"])])
    assert _reload(kyc["dossier"]).status in Dossier.OPEN_STATUSES
    with scopes_disabled():
        assert not Document.objects.filter(name="new-bill.pdf").exists()


def test_still_correct_keeps_the_value_records_a_confirmation_and_clears_expiry(client, kyc, org):
    with scopes_disabled():
        FieldValue.objects.filter(field=kyc["job"]).update(
            expires_on=timezone.localdate() - dt.timedelta(days=3)
        )
    token = factories.token(kyc["dossier"])
    response = client.post(
        f"/d/{token}/",
        {
            _name(kyc["job"]): "Baker",
            _confirm(kyc["job"]): "on",
            _name(kyc["proof"]): _pdf(),
            "action": "submit",
        },
    )
    assert response.status_code == 302
    assert _reload(kyc["dossier"]).status == "submitted"
    value = _value(kyc["job"])
    assert value.value == "Baker"
    assert value.expires_on is None
    assert value.last_confirmed_at is not None and value.last_evidenced_at is not None
    confirmation = _history(kyc["job"])[-1]
    assert confirmation.kind == "confirmation"
    assert confirmation.old_value == confirmation.new_value == "Baker"
    assert confirmation.recipient == kyc["profile"]
    assert confirmation.user is None and not confirmation.on_behalf
    assert confirmation.dossier_uuid == kyc["dossier"].uuid
    proof = _history(kyc["proof"])[-1]
    assert proof.kind == "change" and proof.new_document.name == "new-bill.pdf"


def test_the_everything_is_still_correct_shortcut_confirms_unchanged_items(client, kyc):
    token = factories.token(kyc["dossier"])
    response = client.post(
        f"/d/{token}/",
        {
            _name(kyc["job"]): "Baker",
            "confirm_all": "on",
            _name(kyc["proof"]): _pdf(),
            "action": "submit",
        },
    )
    assert response.status_code == 302
    assert _history(kyc["job"])[-1].kind == "confirmation"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC), dt.date(2027, 4, 1)),
        # Already 1 January in Paris, the organisation's time zone.
        (dt.datetime(2027, 12, 31, 23, 30, tzinfo=dt.UTC), dt.date(2028, 2, 1)),
        (dt.datetime(2028, 1, 31, 12, tzinfo=dt.UTC), dt.date(2028, 2, 29)),
    ],
)
def test_a_group_may_move_expiry_forward_by_its_interval(client, kyc, moment, expected):
    with scopes_disabled():
        kyc["group"].extend_expiry = True
        kyc["group"].save()
        FieldValue.objects.filter(field=kyc["job"]).update(expires_on=dt.date(2020, 1, 1))
        Dossier.objects.update(expires_at=moment + dt.timedelta(days=30))
    token = factories.token(kyc["dossier"])
    with time_machine.travel(moment, tick=False):
        client.post(
            f"/d/{token}/",
            {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"},
        )
    assert _value(kyc["job"]).value == "Chef"
    # One month ahead (the group's interval) of the organisation's day.
    assert _value(kyc["job"]).expires_on == expected


def test_a_classic_dossier_keeps_its_required_rule_and_the_confirmation(client, org):
    field = factories.field(org, "text", label="Employer")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(field, "Acme")], source="staff")
    dossier = factories.dossier(org, profile, [field])
    token = factories.token(dossier)
    response = client.post(f"/d/{token}/", {_name(field): "Acme", "action": "submit"})
    assert response.status_code == 302  # nothing required, nothing to refresh
    assert len(_history(field)) == 1  # left as asked: not written, not confirmed
    other = factories.dossier(org, profile, [field], title="Again")
    response = Client().post(
        f"/d/{factories.token(other)}/",
        {_name(field): "Acme", _confirm(field): "on", "action": "submit"},
    )
    assert response.status_code == 302
    assert _history(field)[-1].kind == "confirmation"


def test_an_expired_value_answered_is_not_requested_again_the_next_day(client, org):
    field = factories.field(org, "text", label="Passport number")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(field, "X1")], source="staff")
        FieldValue.objects.filter(field=field).update(
            expires_on=timezone.localdate() - dt.timedelta(days=1)
        )
    assert open_dossiers_for_expired_values() == 1
    with scopes_disabled():
        dossier = Dossier.objects.get()
    client.post(
        f"/d/{factories.token(dossier)}/",
        {_name(field): "X1", _confirm(field): "on", "action": "submit"},
    )
    assert _reload(dossier).status == "submitted"
    tomorrow = timezone.now() + dt.timedelta(days=1)
    assert open_dossiers_for_expired_values(tomorrow) == 0
    assert _value(field).expires_on is None


def test_a_value_awaiting_review_is_not_requested_again(client, kyc):
    factories.set_review(kyc["group"])
    with scopes_disabled():
        FieldValue.objects.filter(field=kyc["job"]).update(
            expires_on=timezone.localdate() - dt.timedelta(days=1)
        )
    token = factories.token(kyc["dossier"])
    client.post(
        f"/d/{token}/",
        {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"},
    )
    assert _reload(kyc["dossier"]).status == "to_review"
    assert open_dossiers_for_expired_values() == 0


def test_the_client_downloads_the_file_on_file_from_their_link(client, kyc, settings):
    from django.core.files.storage import default_storage

    default_storage.save("documents/on-file", SimpleUploadedFile("x", factories.PDF))
    with scopes_disabled():
        Document.objects.filter(name="old-bill.pdf").update(file="documents/on-file")
    token = factories.token(kyc["dossier"])
    response = client.get(f"/d/{token}/files/{kyc['proof'].uuid}/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == factories.PDF
    assert client.get(f"/d/{token}/files/{kyc['job'].uuid}/").status_code == 404


# Review


def test_with_review_on_a_submission_waits_and_the_profile_is_untouched(client, reviewed):
    assert _reload(reviewed["dossier"]).status == "to_review"
    assert _value(reviewed["job"]).value == "Baker"
    page = client.get(f"/d/{reviewed['token']}/")
    assert "will check them" in page.text


def test_reject_then_resubmit_then_approve_names_the_approver(
    client, member_client, member, org, reviewed, django_capture_on_commit_callbacks
):
    dossier = reviewed["dossier"]
    url = f"/o/{org.slug}/dossiers/{dossier.uuid}/"
    page = member_client.get(url)
    assert "Approve all" in page.text and "Send back" in page.text
    assert member_client.get(f"/o/{org.slug}/dossiers/to-review/").context["page"].paginator.count
    send_due()  # the outbox's earlier messages (invitation, notices) go first
    mail.outbox.clear()
    response = member_client.post(
        url + "reject/", {"item": reviewed["proof"].uuid.hex, "reason": "The bill is cut off"}
    )
    assert response.status_code == 302
    # One item still waits: the dossier stays with staff until every item is decided.
    assert _reload(dossier).status == "to_review"
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(url + "approve/", {"item": reviewed["job"].uuid.hex})
    assert _value(reviewed["job"]).value == "Chef"
    assert _history(reviewed["job"])[-1].approved_by == member
    assert _reload(dossier).status == "changes_requested"
    # The e-mail waits in the outbox while the decision can be undone, then goes.
    assert not mail.outbox
    send_due(now=timezone.now() + UNDO_GRACE)
    assert [m.to for m in mail.outbox] == [["client@example.com"]]
    assert "The bill is cut off" in mail.outbox[0].body

    page = client.get(f"/d/{reviewed['token']}/")
    assert "The bill is cut off" in page.text
    assert set(page.context["form"].items.values()) == {
        i for i in page.context["form"].all_items if i.field == reviewed["proof"]
    }
    response = client.post(
        f"/d/{reviewed['token']}/",
        {_name(reviewed["proof"]): _pdf("whole-bill.pdf"), "action": "submit"},
    )
    assert response.status_code == 302
    assert _reload(dossier).status == "to_review"
    factories.approve_all(member_client, url)
    assert _reload(dossier).status == "approved"
    written = _history(reviewed["proof"])[-1]
    assert written.new_document.name == "whole-bill.pdf"
    assert written.approved_by == member and written.recipient == reviewed["profile"]
    with scopes_disabled():
        actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert "dossiers.dossier.rejected" in actions and "dossiers.dossier.approved" in actions


def test_a_rejection_needs_a_reason_on_its_item(member_client, org, reviewed):
    url = f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/reject/"
    response = member_client.post(url, {"item": reviewed["proof"].uuid.hex, "reason": " "})
    assert response.status_code == 400
    assert "Say what the client should correct." in response.text
    assert _reload(reviewed["dossier"]).status == "to_review"


def test_review_pages_show_before_and_after_with_a_preview(member_client, org, reviewed):
    page = member_client.get(f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/")
    assert "old-bill.pdf" in page.text and "new-bill.pdf" in page.text
    assert "Baker" in page.text and "Chef" in page.text
    preview = member_client.get(
        f"/o/{org.slug}/dossiers/{reviewed['dossier'].uuid}/items/"
        f"{reviewed['proof'].uuid.hex}/upload/?inline=1"
    )
    assert preview.status_code == 200
    assert preview["Content-Type"] == "application/pdf"
    assert preview["Content-Disposition"].startswith("inline")
    assert "frame-ancestors 'self'" in preview["Content-Security-Policy"]


def test_the_navigation_counts_dossiers_to_review(member_client, org, reviewed):
    page = member_client.get(f"/o/{org.slug}/contacts/")
    assert 'class="count"' in page.text


def test_the_purge_skips_a_dossier_awaiting_a_decision_and_counts_from_the_decision(
    org, member, reviewed
):
    from dossiers import review

    dossier = reviewed["dossier"]
    long_ago = timezone.now() - dt.timedelta(days=60)
    with scopes_disabled():
        Dossier.objects.filter(pk=dossier.pk).update(created_at=long_ago)
        assert purge_dossiers() == 0
        review.approve(_reload(dossier), None, member)
        assert purge_dossiers() == 0  # decided today: a month from now
        assert purge_dossiers(timezone.now() + dt.timedelta(days=32)) == 1
        record = DossierRecord.objects.get()
    assert record.outcome == "approved"
    # History keeps which dossier a value came from after the purge.
    assert _history(reviewed["job"])[-1].dossier_uuid == record.dossier_uuid


def test_statuses_read_well_in_french():
    with translation.override("fr"):
        assert str(Dossier.Status.SUBMITTED.label) == "Reçu"
        assert str(Dossier.Status.TO_REVIEW.label) == "À vérifier"


# Who answered


def test_staff_filling_the_clients_page_are_recorded_as_themselves(
    member_client, member, owner, org, kyc, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        Membership.objects.filter(user=owner).update(notices="each")
    url = f"/o/{org.slug}/dossiers/{kyc['dossier'].uuid}/link/"
    response = member_client.post(url)
    portal = response["Location"]
    page = member_client.get(portal)
    assert "on behalf of" in page.text
    # The link is the staff member's own: not the client's, nor anybody else's.
    assert Client().get(portal).status_code == 404
    send_due()  # the invitation waiting in the outbox goes first
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(
            portal,
            {_name(kyc["job"]): "Chef", _name(kyc["proof"]): _pdf(), "action": "submit"},
        )
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["owner@example.com"]]  # staff only
    row = _history(kyc["job"])[-1]
    assert row.user == member and row.recipient == kyc["profile"] and row.on_behalf
    assert "client@example.com" not in [to for m in mail.outbox for to in m.to]
    with scopes_disabled():
        entry = AuditEntry.objects.get(action="dossiers.dossier.submitted_on_behalf")
    assert entry.user == member
    history = member_client.get(f"/o/{org.slug}/profiles/{kyc['profile'].uuid}/history/")
    assert "on behalf of Jane Doe" in history.text


def test_the_record_page_answers_after_the_purge(member_client, org, kyc):
    with scopes_disabled():
        Dossier.objects.filter(pk=kyc["dossier"].pk).update(
            created_at=timezone.now() - dt.timedelta(days=40)
        )
        purge_dossiers()
    response = member_client.get(f"/o/{org.slug}/dossiers/records/{kyc['dossier'].uuid}/")
    assert response.status_code == 200
    assert str(kyc["dossier"].uuid) in response.text
    with scopes_disabled():
        assert not DossierItem.objects.exists()


def test_the_profile_and_the_popup_say_when_a_value_was_last_confirmed(
    client, member_client, org, kyc
):
    token = factories.token(kyc["dossier"])
    client.post(
        f"/d/{token}/",
        {
            _name(kyc["job"]): "Baker",
            _confirm(kyc["job"]): "on",
            _name(kyc["proof"]): _pdf(),
            "action": "submit",
        },
    )
    profile = member_client.get(f"/o/{org.slug}/profiles/{kyc['profile'].uuid}/")
    assert "last confirmed on" in profile.text
    popup = member_client.get(
        f"/o/{org.slug}/profiles/{kyc['profile'].uuid}/fields/{kyc['job'].uuid}/monitoring/"
    )
    assert "Last confirmed on" in popup.text
