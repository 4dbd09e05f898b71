"""The audit log page opens whatever it holds: approvals, and entries of every kind of actor."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.test import Client
from django_scopes import scope, scopes_disabled

from dossiers import audit as dossiers_audit
from organizations.models import AuditEntry, record_audit
from tests import factories
from tests.api.conftest import client_for, issue

pytestmark = pytest.mark.django_db


def _log(client: Client, org, **params: str):
    return client.get(f"/o/{org.slug}/settings/audit/", params)


def _submitted_for_review(org) -> dict:
    """An update dossier the client answered, waiting for staff: a job title and an address."""
    job = factories.field(org, "text", label="Job")
    address = factories.field(org, "text", label="Address")
    profile = factories.contact(org, first_name="Ada", last_name="Lovelace", language="en")
    group = factories.group(org, [job, address], review_required=True)
    dossier = factories.dossier(
        org,
        profile,
        [job, address],
        kind="update",
        update_group_id=group.pk,
        period=dt.date(2026, 1, 31),
    )
    response = Client().post(
        f"/d/{factories.token(dossier)}/",
        {f"f_{job.uuid.hex}": "Chef", f"f_{address.uuid.hex}": "1 Main St", "action": "submit"},
    )
    assert response.status_code == 302
    return {"dossier": dossier, "job": job, "address": address, "profile": profile}


def test_the_log_opens_after_a_staff_approval_and_says_what_was_approved(owner_client, org):
    dossier = _submitted_for_review(org)["dossier"]
    approved = owner_client.post(f"/o/{org.slug}/dossiers/{dossier.uuid}/approve/")
    assert approved.status_code == 302
    page = _log(owner_client, org)
    assert page.status_code == 200
    assert "Dossier answers approved" in page.text
    assert "2 items approved" in page.text
    assert "items:" not in page.text and "{" not in page.text.split("<tbody>")[1]


def test_the_log_opens_after_an_approval_through_the_api_and_names_the_key(owner_client, org):
    dossier = _submitted_for_review(org)["dossier"]
    api = client_for(issue(org, name="CRM sync")[1])
    approved = api.post(
        f"/api/v1/dossiers/{dossier.uuid}/approve/", "{}", content_type="application/json"
    )
    assert approved.status_code == 200, approved.content
    page = _log(owner_client, org)
    assert page.status_code == 200
    assert "API key “CRM sync”" in page.text
    assert "2 items approved" in page.text


def test_every_kind_of_actor_is_named_for_people(owner_client, org, owner):
    owner.first_name, owner.last_name = "Olive", "Owner"
    owner.save()
    ada = factories.contact(org, first_name="Ada", last_name="Lovelace")
    with scope(organization=org):
        record_audit(org, owner, dossiers_audit.DOSSIER_RESENT, "Annual review")
        record_audit(org, None, dossiers_audit.DOSSIER_RESENT, "Annual review", api_key="CRM sync")
        record_audit(org, None, dossiers_audit.DOSSIER_RESENT, "Annual review", client=ada)
        record_audit(org, None, dossiers_audit.LINKS_REVOKED, "Ada", reason="e-mail changed")
    page = _log(owner_client, org)
    assert page.status_code == 200
    cells = page.text.split("<tbody>")[1]
    for who in ["Olive Owner", "API key “CRM sync”", "Client: Ada Lovelace", "System"]:
        assert who in cells
    assert "None" not in cells


def test_a_link_revocation_by_the_system_opens_and_says_why(owner_client, org):
    ada = factories.contact(org, email="ada@example.com")
    dossier = factories.dossier(org, ada, [factories.field(org)])
    factories.token(dossier)
    with scopes_disabled():
        ada.email = "someone-else@example.com"
        ada.save()
        [entry] = AuditEntry.objects.filter(action="dossiers.links.revoked")
    assert entry.user is None
    page = _log(owner_client, org)
    assert page.status_code == 200
    assert "System" in page.text and "Links revoked" in page.text
    assert "1 link revoked: the e-mail address changed" in page.text


def test_the_csv_export_names_every_actor_and_says_the_details_in_words(owner_client, org, owner):
    ada = factories.contact(org, first_name="Ada", last_name="Lovelace")
    with scope(organization=org):
        record_audit(
            org, None, dossiers_audit.DOSSIER_APPROVED, "Review", api_key="CRM sync", items=3
        )
        record_audit(org, None, dossiers_audit.DOSSIER_RESENT, "Review", client=ada)
    response = owner_client.get(f"/o/{org.slug}/settings/audit/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header = rows[0]
    # The columns of before stay where they were; the readable ones come after.
    assert header[:6] == ["When", "Who", "Action", "Description", "Object", "Details"]
    by = {row[2]: dict(zip(header, row, strict=True)) for row in rows[1:]}
    approval = by["dossiers.dossier.approved"]
    assert approval["By"] == "API key “CRM sync”"
    assert approval["Details (readable)"] == "3 items approved"
    assert json.loads(approval["Details"])["items"] == "3"
    assert by["dossiers.dossier.resent"]["By"] == "Client: Ada Lovelace"
