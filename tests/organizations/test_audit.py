from __future__ import annotations

import csv
import io
import zoneinfo

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from organizations.models import AuditEntry
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _actions():
    with scopes_disabled():
        # Logging the test's user in is audited too; these tests look at what follows.
        entries = AuditEntry.objects.exclude(action__startswith="organizations.auth.")
        return list(entries.order_by("id").values_list("action", flat=True))


def test_staff_changes_to_fields_groups_and_expiry_dates_are_logged(owner_client, org, owner):
    owner_client.post(
        f"/o/{org.slug}/settings/fields/contacts/new/",
        {"label": "Passport", "type": "text", "max_size_mb": 10},
    )
    with scopes_disabled():
        field = org.datafield_set.get()
    owner_client.post(f"/o/{org.slug}/settings/field/{field.uuid}/archive/")
    owner_client.post(f"/o/{org.slug}/settings/field/{field.uuid}/archive/")
    owner_client.post(
        f"/o/{org.slug}/settings/fields/monitoring/new/",
        {
            "title": "KYC",
            "applies_to": "contact",
            "start_date": "2024-01-31",
            "frequency": "1-years",
            "interval_unit": "years",
            "fields": [field.pk],
        },
    )
    with scopes_disabled():
        group = org.updategroup_set.get()
    owner_client.post(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/toggle/")
    profile = factories.contact(org)
    with scopes_disabled():
        apply_values(profile, [NewValue(field, "X1")], source="staff")
    url = f"/o/{org.slug}/profiles/{profile.uuid}/fields/{field.uuid}/monitoring/"
    owner_client.post(url, {"expires_on": "2030-01-01", "action": "save"})
    owner_client.post(url, {"action": "clear"})
    owner_client.post(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/delete/")
    assert _actions() == [
        "profiles.field.created",
        "profiles.field.archived",
        "profiles.field.restored",
        "monitoring.group.created",
        "monitoring.group.paused",
        "monitoring.expiry.set",
        "monitoring.expiry.cleared",
        "monitoring.group.deleted",
    ]
    with scopes_disabled():
        expiry = AuditEntry.objects.get(action="monitoring.expiry.set")
    assert expiry.user == owner and expiry.details == {"before": None, "after": "2030-01-01"}
    page = owner_client.get(f"/o/{org.slug}/settings/audit/")
    assert page.status_code == 200 and "Expiry date set" in page.text


def test_the_audit_log_is_for_admins_of_the_organisation(member_client, outsider_client, org):
    assert member_client.get(f"/o/{org.slug}/settings/audit/").status_code == 403
    assert outsider_client.get(f"/o/{org.slug}/settings/audit/").status_code == 404


def _entries(action: str) -> list[AuditEntry]:
    with scopes_disabled():
        return list(AuditEntry.objects.filter(action=action).order_by("id"))


def test_profile_dossier_and_document_actions_are_logged(
    member_client, org, member, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    member_client.post(
        f"/o/{org.slug}/contacts/new/",
        {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com", "language": "en"},
    )
    with scopes_disabled():
        profile = org.profile_set.get()
    member_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/edit/",
        {"first_name": "Ann", "last_name": "Lee", "email": "ann@new.example", "language": "en"},
    )
    [edited] = _entries("profiles.profile.updated")
    assert edited.details["email_before"] == "ann@example.com"
    assert edited.details["email_after"] == "ann@new.example"
    field = factories.field(org, "document")
    member_client.post(
        f"/o/{org.slug}/profiles/{profile.uuid}/values/",
        {f"f_{field.uuid.hex}": SimpleUploadedFile("a.pdf", factories.PDF)},
    )
    with scopes_disabled():
        document = profile.documents.get()
    member_client.get(f"/o/{org.slug}/documents/{document.uuid}/")
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(
            f"/o/{org.slug}/profiles/{profile.uuid}/dossiers/new/",
            {"title": "Check", "fields": [field.pk], "message": "", "days": 14},
        )
    with scopes_disabled():
        dossier = org.dossier_set.get()
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(f"/o/{org.slug}/dossiers/{dossier.uuid}/resend/")
    member_client.post(f"/o/{org.slug}/dossiers/{dossier.uuid}/link/")
    member_client.post(f"/o/{org.slug}/profiles/{profile.uuid}/archive/")
    assert _actions() == [
        "profiles.profile.created",
        "profiles.profile.updated",
        "profiles.document.downloaded",
        "dossiers.dossier.created",
        "dossiers.dossier.resent",
        "dossiers.dossier.client_page_opened",
        # Archiving the contact revoked the link "open the client's page" had made.
        "dossiers.links.revoked",
        "profiles.profile.archived",
    ]
    assert all(e.user == member for e in _entries("dossiers.dossier.resent"))


def test_every_action_is_namespaced_by_the_app_that_declares_it():
    from organizations.audit import known_actions

    actions = known_actions()
    apps_seen = {a.app for a in actions}
    assert apps_seen == {"organizations", "profiles", "imports", "dossiers", "monitoring", "api"}
    assert all(a.count(".") >= 2 and str(a.label) for a in actions)


def _log(org, action, user=None, target="x"):
    from organizations.models import record_audit

    with scopes_disabled():
        return record_audit(org, user, action, target)


def test_the_audit_log_filters_by_area_action_person_and_date(owner_client, org, owner, member):
    _log(org, "profiles.field.created", owner, "Passport")
    _log(org, "monitoring.group.created", member, "KYC")
    _log(org, "profiles.profile.archived", member, "Jane")
    url = f"/o/{org.slug}/settings/audit/"

    def targets(**query):
        page = owner_client.get(url, query)
        assert page.status_code == 200
        return sorted(
            e.target for e in page.context["page"] if not e.action.startswith("organizations.auth")
        )

    assert targets() == ["Jane", "KYC", "Passport"]
    assert targets(app="profiles") == ["Jane", "Passport"]
    assert targets(action="monitoring.group.created") == ["KYC"]
    assert targets(user=str(member.pk)) == ["Jane", "KYC"]
    # The organisation's day, which near midnight is not the server's.
    today = timezone.localdate(timezone=zoneinfo.ZoneInfo(org.time_zone)).isoformat()
    assert targets(since=today, until=today) == ["Jane", "KYC", "Passport"]
    assert targets(until="2000-01-01") == []
    # Nonsense is refused on its field, never a 500.
    page = owner_client.get(url, {"since": "not-a-date", "action": "'"})
    assert page.status_code == 200 and page.context["form"].errors


def test_the_audit_log_exports_the_filtered_entries_as_csv(owner_client, org, owner):
    _log(org, "profiles.field.created", owner, '=HYPERLINK("http://evil")')
    _log(org, "monitoring.group.created", owner, "KYC")
    response = owner_client.get(f"/o/{org.slug}/settings/audit/export.csv", {"app": "profiles"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["When", "Who", "Action"]
    assert [row[2] for row in rows[1:]] == ["profiles.field.created"]
    assert rows[1][4].startswith("'=")  # a formula is shown, never run
    assert _entries("organizations.audit.exported")[0].details["filters"] == "app=profiles"


def test_staff_cannot_export_the_audit_log(member_client, org):
    assert member_client.get(f"/o/{org.slug}/settings/audit/export.csv").status_code == 403


def test_the_compliance_overview_export_is_audited(member_client, org, member):
    response = member_client.get(f"/o/{org.slug}/monitoring/overview.csv", {"status": "expired"})
    assert response.status_code == 200
    b"".join(response.streaming_content)
    [entry] = _entries("monitoring.overview.exported")
    assert entry.user == member and entry.details["filters"] == "status=expired"
