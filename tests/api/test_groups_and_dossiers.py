"""Update groups, their runs, dossiers and their review, and documents through the API."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo

import pytest
import time_machine
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from monitoring.models import UpdateGroup, UpdateRun
from organizations.models import AuditEntry
from profiles.models import Document, FieldValue, FieldValueHistory
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _send(client, method, url, body):
    return getattr(client, method)(url, json.dumps(body), content_type="application/json")


def _group_body(fields, **overrides):
    return {
        "title": "KYC",
        "applies_to": "contact",
        "start_date": "2026-01-31",
        "interval_count": 3,
        "interval_unit": "months",
        "fields": [str(f.uuid) for f in fields],
        **overrides,
    }


def test_a_group_is_created_changed_and_deleted_with_the_one_group_rule(api, org):
    proof = factories.field(org, "document")
    job = factories.field(org, "text")
    company_field = factories.field(org, "text", applies_to="company")
    response = _send(api, "post", "/api/v1/groups/", _group_body([proof]))
    assert response.status_code == 201, response.json()
    group = response.json()
    assert group["fields"] == [str(proof.uuid)] and group["next_date"]
    # The same field cannot join a second group; a field of the other type is refused.
    refused = _send(api, "post", "/api/v1/groups/", _group_body([proof, company_field]))
    assert refused.status_code == 400
    messages = [e["detail"] for e in refused.json()["errors"]]
    assert any("already belongs to the group “KYC”" in m for m in messages)
    assert any("is not a field of this group's type" in m for m in messages)
    changed = _send(api, "patch", f"/api/v1/groups/{group['uuid']}/", {"fields": [str(job.uuid)]})
    assert changed.status_code == 200 and changed.json()["fields"] == [str(job.uuid)]
    with scopes_disabled():
        assert factories.group_id_of(proof) is None
        assert UpdateGroup.objects.get(pk=factories.group_id_of(job)).title == "KYC"
    assert api.delete(f"/api/v1/groups/{group['uuid']}/").status_code == 204
    with scopes_disabled():
        assert not UpdateGroup.objects.exists()
        actions = sorted(AuditEntry.objects.values_list("action", "details__api_key"))
    assert actions == [
        ("monitoring.group.created", "CRM sync"),
        ("monitoring.group.deleted", "CRM sync"),
        ("monitoring.group.updated", "CRM sync"),
    ]


@pytest.mark.parametrize(
    ("moment", "monthly", "yearly"),
    [
        (dt.datetime(2027, 3, 15, 9, tzinfo=dt.UTC), dt.date(2027, 4, 1), dt.date(2028, 1, 1)),
        # In December the next month and the next year begin on the same day.
        (dt.datetime(2027, 12, 7, 9, tzinfo=dt.UTC), dt.date(2028, 1, 1), dt.date(2028, 1, 1)),
    ],
)
def test_a_groups_schedule_is_recomputed_when_it_changes(api, org, moment, monthly, yearly):
    with time_machine.travel(moment, tick=False):
        group = factories.group(org, [], start_date=dt.date(2020, 1, 1))
        assert group.next_date == monthly
        response = _send(api, "patch", f"/api/v1/groups/{group.uuid}/", {"interval_unit": "years"})
    assert response.status_code == 200
    group.refresh_from_db()
    assert group.next_date == yearly and group.interval_unit == "years"
    assert group.next_run_at == dt.datetime.combine(
        yearly, dt.time(8), tzinfo=zoneinfo.ZoneInfo("Europe/Paris")
    )
    assert (
        _send(api, "patch", f"/api/v1/groups/{group.uuid}/", {"interval_count": 0}).status_code
        == 400
    )


def test_runs_come_with_their_follow_up_counts(api, org):
    job = factories.field(org, "text")
    group = factories.group(org, [job])
    period = dt.date(2026, 1, 31)
    with scopes_disabled():
        UpdateRun.objects.create(
            organization=org, group=group, period=period, index=0, due_at=group.next_run_at
        )
    profiles = [factories.contact(org, email=f"c{i}@example.com") for i in range(3)]
    dossiers = [
        factories.dossier(org, p, [job], kind="update", update_group_id=group.pk, period=period)
        for p in profiles
    ]
    with scopes_disabled():
        Dossier.objects.filter(pk=dossiers[0].pk).update(status="approved")
    [run] = api.get(f"/api/v1/groups/{group.uuid}/runs/").json()["results"]
    assert run["period"] == "2026-01-31"
    assert run["dossiers"]["sent"] == 3 and run["dossiers"]["completion"] == 33
    assert run["dossiers"]["outstanding"] == 2
    assert run["dossiers"]["open"] == 2 and run["dossiers"]["approved"] == 1


def test_a_classic_dossier_is_opened_listed_by_profile_and_read(
    api, org, django_capture_on_commit_callbacks
):
    profile = factories.contact(org, email="client@example.com")
    other = factories.contact(org, email="other@example.com")
    job = factories.field(org, "text", label="Job")
    factories.dossier(org, other, [job])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = _send(
            api,
            "post",
            "/api/v1/dossiers/",
            {
                "profile": str(profile.uuid),
                "fields": [str(job.uuid)],
                "title": "Yearly",
                "days": 10,
            },
        )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["status"] == "open" and created["kind"] == "classic"
    assert [i["label"] for i in created["items"]] == ["Job"]
    assert ["client@example.com"] in [m.to for m in mail.outbox]
    listed = api.get(f"/api/v1/dossiers/?profile={profile.uuid}").json()["results"]
    assert [d["uuid"] for d in listed] == [created["uuid"]]
    assert api.get("/api/v1/dossiers/?status=open&kind=classic").json()["results"]
    assert api.get("/api/v1/dossiers/?status=nonsense").status_code == 400


def test_a_dossier_is_not_opened_for_an_archived_profile_or_foreign_fields(api, org):
    profile = factories.contact(org)
    company_field = factories.field(org, "text", applies_to="company")
    response = _send(
        api,
        "post",
        "/api/v1/dossiers/",
        {"profile": str(profile.uuid), "fields": [str(company_field.uuid)], "title": "x"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "fields"
    profile.archived_at = profile.created_at
    profile.save()
    response = _send(
        api,
        "post",
        "/api/v1/dossiers/",
        {"profile": str(profile.uuid), "fields": [str(company_field.uuid)], "title": "x"},
    )
    assert response.json()["errors"][0]["attr"] == "profile"
    with scopes_disabled():
        assert not Dossier.objects.exists()


@pytest.fixture
def under_review(org):
    job = factories.field(org, "text", label="Job")
    proof = factories.field(org, "document", label="Proof")
    profile = factories.contact(org, email="client@example.com", language="en")
    group = factories.group(org, [job, proof], review_required=True)
    dossier = factories.dossier(
        org,
        profile,
        [job, proof],
        kind="update",
        update_group_id=group.pk,
        period=dt.date(2026, 1, 31),
    )
    token = factories.token(dossier)
    response = Client().post(
        f"/d/{token}/",
        {
            f"f_{job.uuid.hex}": "Chef",
            f"f_{proof.uuid.hex}": SimpleUploadedFile("bill.pdf", factories.PDF, "application/pdf"),
            "action": "submit",
        },
    )
    assert response.status_code == 302
    return {"dossier": dossier, "job": job, "proof": proof, "profile": profile}


def test_review_through_the_api_names_the_key_as_approver(api, org, under_review, write_key):
    url = f"/api/v1/dossiers/{under_review['dossier'].uuid}/"
    detail = api.get(url).json()
    assert detail["status"] == "to_review"
    assert {i["label"]: i["review"] for i in detail["items"]} == {
        "Job": "pending",
        "Proof": "pending",
    }
    assert [i["upload"]["name"] for i in detail["items"] if i["upload"]] == ["bill.pdf"]
    refused = _send(
        api, "post", url + "reject/", {"item": str(under_review["proof"].uuid), "reason": ""}
    )
    assert refused.status_code == 400 and refused.json()["errors"][0]["attr"] == "reason"
    response = _send(
        api, "post", url + "reject/", {"item": str(under_review["proof"].uuid), "reason": "Cut off"}
    )
    assert response.status_code == 200 and response.json()["status"] == "to_review"
    response = _send(api, "post", url + "approve/", {"items": [str(under_review["job"].uuid)]})
    assert response.json() == {"approved": 1, "status": "changes_requested"}
    with scopes_disabled():
        row = FieldValueHistory.objects.get(field=under_review["job"])
        actions = set(AuditEntry.objects.values_list("action", "details__api_key"))
    assert row.new_value == "Chef" and row.api_key_uuid == write_key[0].uuid
    assert row.approved_by is None
    assert row.recipient == under_review["profile"]
    assert {
        ("dossiers.dossier.rejected", "CRM sync"),
        ("dossiers.dossier.approved", "CRM sync"),
    } <= actions
    # Decided already: a second approval is a conflict, in the same error shape.
    conflict = _send(api, "post", url + "approve/", {})
    assert conflict.status_code == 409 and conflict.json()["type"] == "client_error"


def test_approving_an_item_that_is_not_in_the_dossier_is_refused(api, org, under_review):
    url = f"/api/v1/dossiers/{under_review['dossier'].uuid}/approve/"
    stranger = factories.field(org, "text")
    response = _send(api, "post", url, {"items": [str(stranger.uuid)]})
    assert response.status_code == 400 and response.json()["errors"][0]["attr"] == "items"
    assert (
        api.get(f"/api/v1/dossiers/{under_review['dossier'].uuid}/").json()["status"] == "to_review"
    )


def test_a_document_is_downloaded(api, org):
    profile = factories.contact(org)
    field = factories.field(org, "document")
    key = default_storage.save("documents/api-test", ContentFile(factories.PDF))
    with scopes_disabled():
        document = Document.objects.create(
            organization=org,
            profile=profile,
            field=field,
            file=key,
            name="passport.pdf",
            content_type="application/pdf",
            size=len(factories.PDF),
        )
    response = api.get(f"/api/v1/documents/{document.uuid}/", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == factories.PDF
    assert "passport.pdf" in response["Content-Disposition"]
    missing = api.get("/api/v1/documents/00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "not_found"


def test_a_removal_the_client_asked_for_reads_as_such_and_is_approved_as_one(api, org):
    """An API reviewer tells "remove this value" from an unanswered item by its flag, never
    by an empty answer; approving it removes the value, with its history row."""
    job = factories.field(org, "text", label="Job")
    profile = factories.contact(org, email="client@example.com", language="en")
    with scopes_disabled():
        apply_values(profile, [NewValue(job, "Baker")], source="staff")
    group = factories.group(org, [job], review_required=True)
    dossier = factories.dossier(
        org, profile, [job], kind="update", update_group_id=group.pk, period=dt.date(2026, 1, 31)
    )
    sent = Client().post(
        f"/d/{factories.token(dossier)}/", {f"r_{job.uuid.hex}": "on", "action": "submit"}
    )
    assert sent.status_code == 302
    url = f"/api/v1/dossiers/{dossier.uuid}/"
    [item] = api.get(url).json()["items"]
    assert (item["remove_requested"], item["review"]) == (True, "pending")
    assert _send(api, "post", url + "approve/", {}).json()["approved"] == 1
    with scopes_disabled():
        assert not FieldValue.objects.filter(profile=profile, field=job).exists()
        row = FieldValueHistory.objects.filter(field=job).latest("id")
    assert (row.old_value, row.new_value, row.source) == ("Baker", None, "dossier")
