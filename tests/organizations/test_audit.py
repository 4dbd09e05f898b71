from __future__ import annotations

import pytest
from django_scopes import scopes_disabled

from organizations.models import AuditEntry
from profiles.services import NewValue, apply_values
from tests import factories

pytestmark = pytest.mark.django_db


def _actions():
    with scopes_disabled():
        # Logging the test's user in is audited too; these tests look at what follows.
        entries = AuditEntry.objects.exclude(action__startswith="auth.")
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
        "field.created",
        "field.archived",
        "field.restored",
        "group.created",
        "group.paused",
        "expiry.set",
        "expiry.cleared",
        "group.deleted",
    ]
    with scopes_disabled():
        expiry = AuditEntry.objects.get(action="expiry.set")
    assert expiry.user == owner and expiry.details == {"before": None, "after": "2030-01-01"}
    page = owner_client.get(f"/o/{org.slug}/settings/audit/")
    assert page.status_code == 200 and "Expiry date set" in page.text


def test_the_audit_log_is_for_admins_of_the_organisation(member_client, outsider_client, org):
    assert member_client.get(f"/o/{org.slug}/settings/audit/").status_code == 403
    assert outsider_client.get(f"/o/{org.slug}/settings/audit/").status_code == 404
