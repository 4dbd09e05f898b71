"""A purged dossier's record names its recipients by reference: erasing a representative
leaves the company's records without their name (M2)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dossiers.models import DossierRecord
from dossiers.retention import purge_dossiers
from organizations.actors import Actor
from profiles.actions import erase_profile
from profiles.models import Kind
from tests import factories


def _company_with_representatives(org):
    company = factories.company(org, name="Initech")
    rita = factories.contact(
        org,
        first_name="Rita",
        last_name="Rep",
        email="rita@example.com",
        company=company,
        is_representative=True,
    )
    sam = factories.contact(
        org,
        first_name="Sam",
        last_name="Rep",
        email="sam@example.com",
        company=company,
        is_representative=True,
    )
    return company, rita, sam


def test_erasing_a_representative_removes_their_name_from_the_company_records(
    owner_client, org, owner
):
    company, rita, sam = _company_with_representatives(org)
    field = factories.field(org, applies_to=Kind.COMPANY)
    dossier = factories.dossier(org, company, [field], kind="update")
    factories.token(dossier, rita)
    factories.token(dossier, sam)
    with scopes_disabled():
        assert purge_dossiers(now=timezone.now() + dt.timedelta(days=40)) == 1
        record = DossierRecord.objects.get()
        assert record.recipients_shown == "Rita Rep <rita@example.com>, Sam Rep <sam@example.com>"
    page = owner_client.get(f"/o/{org.slug}/dossiers/records/{record.dossier_uuid}/")
    assert page.status_code == 200 and "Rita Rep" in page.text
    with scope(organization=org):
        erase_profile(rita, actor=Actor.member(owner))
    with scopes_disabled():
        record = DossierRecord.objects.get()
        named = record.recipients_shown
    shown = named + record.recipients + json.dumps(record.fields)
    assert "Rita" not in shown and "rita@example.com" not in shown
    assert named == "Sam Rep <sam@example.com>"


def test_an_older_record_loses_the_exact_mention_of_the_erased_person_only(org, owner):
    company, rita, _sam = _company_with_representatives(org)
    with scopes_disabled():
        record = DossierRecord.objects.create(
            organization=org,
            profile=company,
            dossier_uuid=uuid.uuid4(),
            kind="update",
            title="KYC",
            # "Rita Repton" contains Rita Rep's name: it is someone else.
            recipients="Rita Rep <rita@example.com>, Rita Repton <rita@example.com.au>",
            created_at=timezone.now(),
            expires_at=timezone.now(),
            outcome="expired",
        )
    with scope(organization=org):
        erase_profile(rita, actor=Actor.member(owner))
    with scopes_disabled():
        record.refresh_from_db()
    assert record.recipients == "Rita Repton <rita@example.com.au>"


def test_the_export_of_a_representative_holds_the_company_records_they_were_asked_in(org, owner):
    from dossiers.privacy import records

    company, rita, _sam = _company_with_representatives(org)
    field = factories.field(org, applies_to=Kind.COMPANY)
    dossier = factories.dossier(org, company, [field], kind="update", title="Company KYC")
    factories.token(dossier, rita)
    with scopes_disabled():
        purge_dossiers(now=timezone.now() + dt.timedelta(days=40))
    with scope(organization=org):
        exported = records(rita)["purged_dossiers"]
    assert [row["title"] for row in exported] == ["Company KYC"]
