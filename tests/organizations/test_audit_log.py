"""The audit log page opens whatever it holds: approvals, and entries of every kind of actor."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import lxml.html
import pytest
from django.test import Client
from django_scopes import scope, scopes_disabled
from hypothesis import given, settings
from hypothesis import strategies as st

from dossiers import audit as dossiers_audit
from organizations.audit import describe, known_actions
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
    review = _submitted_for_review(org)
    dossier = review["dossier"]
    approved = owner_client.post(
        f"/o/{org.slug}/dossiers/{dossier.uuid}/approve/", {"item": review["job"].uuid.hex}
    )
    assert approved.status_code == 302
    page = _log(owner_client, org)
    assert page.status_code == 200
    assert "Dossier answers approved" in page.text
    assert "Approved: Job" in page.text
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


def test_erasing_a_client_forgets_them_as_the_actor_of_their_entries(owner_client, org):
    from organizations.privacy import erase

    ada = factories.contact(org, first_name="Ada", last_name="Lovelace")
    with scope(organization=org):
        record_audit(org, None, dossiers_audit.DOSSIER_RESENT, "Annual review", client=ada)
        erase(ada)
        [entry] = AuditEntry.objects.filter(action=dossiers_audit.DOSSIER_RESENT)
    assert entry.actor == AuditEntry.Actor.CLIENT and entry.actor_name == ""
    assert entry.who == "Client: —"


def test_the_who_filter_chooses_api_keys_clients_or_the_system(owner_client, org, owner):
    ada = factories.contact(org, first_name="Ada", last_name="Lovelace")
    with scope(organization=org):
        record_audit(org, owner, dossiers_audit.DOSSIER_RESENT, "by a member")
        record_audit(org, None, dossiers_audit.DOSSIER_RESENT, "by a key", api_key="CRM sync")
        record_audit(org, None, dossiers_audit.DOSSIER_RESENT, "by a client", client=ada)
        record_audit(org, None, dossiers_audit.LINKS_REVOKED, "by the system", links=1)

    def targets(who: str) -> list[str]:
        page = _log(owner_client, org, user=who, action=dossiers_audit.DOSSIER_RESENT)
        assert page.status_code == 200 and not page.context["form"].errors
        return [entry.target for entry in page.context["page"]]

    assert targets("actor:api_key") == ["by a key"]
    assert targets("actor:client") == ["by a client"]
    assert targets(str(owner.pk)) == ["by a member"]
    system = _log(owner_client, org, user="actor:system")
    assert [e.target for e in system.context["page"]] == ["by the system"]
    export = owner_client.get(f"/o/{org.slug}/settings/audit/export.csv", {"user": "actor:client"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert [row[4] for row in rows[1:]] == ["by a client"]
    owner_client.get(f"/o/{org.slug}/settings/audit/export.csv", {"user": str(owner.pk)})
    with scope(organization=org):
        exports = AuditEntry.objects.filter(action="organizations.audit.exported").order_by("id")
        assert [e.description for e in exports] == ["Filters: Who: Clients", "Filters: Who: owner"]
    # A value no list offers is refused on its field, never a 500.
    refused = _log(owner_client, org, user="actor:nobody")
    assert refused.status_code == 200 and "user" in refused.context["form"].errors


@pytest.mark.parametrize(
    ("style", "shown"), [("dmy", "31/03/2030"), ("mdy", "03/31/2030"), ("iso", "2030-03-31")]
)
def test_dates_in_details_follow_the_organisations_date_style(owner_client, org, style, shown):
    from monitoring import audit as monitoring_audit

    org.date_style = style
    org.save()
    with scope(organization=org):
        record_audit(
            org, None, monitoring_audit.EXPIRY_SET, "Ada — ID", before=None, after="2030-03-31"
        )
    page = _log(owner_client, org)
    assert f"none → {shown}" in page.text


def test_an_action_no_app_declares_any_more_still_reads_plainly(owner_client, org):
    with scope(organization=org):
        record_audit(
            org, None, "oldapp.thing.done", "Old", first_name="Ada", count=3, at="2030-03-31"
        )
    page = _log(owner_client, org)
    assert page.status_code == 200
    assert "At: 31/03/2030; Count: 3; First name: Ada" in page.text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from([str(a) for a in known_actions()] + ["gone.app.action", ""]),
    details=JSON,
)
def test_any_details_of_any_action_read_without_failing(name, details):
    text = describe(name, details)
    assert isinstance(text, str)
    if "{" not in "".join(_texts(details)):
        # Objects are spelled out, never shown as JSON.
        assert "{" not in text


def _texts(value) -> list[str]:
    if isinstance(value, dict):
        return [str(k) for k in value] + [t for v in value.values() for t in _texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return [str(value)]


def test_the_date_filters_read_as_a_range_in_french(owner_client, org):
    """ "To" is the end of a range here, not an e-mail's recipient ("Destinataire")."""
    owner_client.cookies["django_language"] = "fr"
    page = owner_client.get(f"/o/{org.slug}/settings/audit/")
    labels = [
        label.text_content() for label in lxml.html.fromstring(page.content).xpath("//form//label")
    ]
    assert {"Du", "Au"} <= set(labels) and "Destinataire" not in labels


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_detail_that_looks_like_a_moment_out_of_range_still_opens(owner_client, org, language):
    """A restored text "9999-12-31T23:30:00-05:00" cannot be shifted to any time zone: it is
    shown as stored, and the log opens (an OverflowError answered 500)."""
    field = factories.field(org, "text", label="Reference")
    profile = factories.contact(org)
    values_url = f"/o/{org.slug}/profiles/{profile.uuid}/values/"
    for value in ("9999-12-31T23:30:00-05:00", "Something else"):
        owner_client.post(values_url, {f"f_{field.uuid.hex}": value})
    with scopes_disabled():
        row = profile.history.latest("id")
    restored = owner_client.post(f"/o/{org.slug}/profiles/{profile.uuid}/history/{row.pk}/restore/")
    assert restored.status_code == 302
    owner_client.cookies["django_language"] = language
    page = owner_client.get(f"/o/{org.slug}/settings/audit/")
    assert page.status_code == 200
    assert "9999-12-31T23:30:00-05:00" in page.text
