from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_scopes import scopes_disabled

from organizations.checks import check_production_settings
from organizations.models import Membership, Organization


@pytest.fixture(autouse=True)
def _laptop(settings):
    # The demo is for a laptop (DEBUG on); the tests run with DEBUG off.
    settings.DEBUG = True


@pytest.mark.django_db
def test_seed_demo_refuses_production_unless_told(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--allow-production"):
        call_command("seed_demo")
    assert not Organization.objects.exists()
    call_command("seed_demo", allow_production=True)
    assert Organization.objects.filter(slug="demo").exists()


@pytest.mark.django_db
def test_check_deploy_warns_while_demo_accounts_exist():
    assert "backoffice.W003" not in {m.id for m in check_production_settings(None)}
    call_command("seed_demo")
    warnings = [m for m in check_production_settings(None) if m.id == "backoffice.W003"]
    assert warnings and "admin" in warnings[0].msg


@pytest.mark.django_db
def test_seed_demo_is_idempotent_and_the_admin_can_log_in(capsys):
    call_command("seed_demo")
    call_command("seed_demo")
    assert "admin / demo-admin" in capsys.readouterr().out
    assert Organization.objects.filter(slug="demo").count() == 1
    with scopes_disabled():
        assert Membership.objects.filter(organization__slug="demo", role="admin").count() == 1
    client = Client()
    response = client.post("/login/", {"username": "admin", "password": "demo-admin"})
    assert response.status_code == 302
    assert client.get("/o/demo/contacts/").status_code == 200


@pytest.mark.django_db
def test_the_demo_has_profiles_fields_and_dossiers_in_every_status():
    call_command("seed_demo")
    call_command("seed_demo")
    with scopes_disabled():
        from dossiers.models import Dossier
        from profiles.models import DataField, FieldType, Profile

        org = Organization.objects.get(slug="demo")
        assert {f.type for f in DataField.objects.filter(organization=org)} == set(FieldType.values)
        company = Profile.objects.get(organization=org, name="Boulangerie Martin SARL")
        assert company.contacts.filter(is_representative=True).count() == 2
        statuses = set(Dossier.objects.filter(organization=org).values_list("status", flat=True))
    assert {"open", "in_progress", "submitted", "expired"} <= statuses


@pytest.mark.django_db
def test_the_demo_has_two_groups_one_of_them_due_now():
    from django.utils import timezone

    from monitoring.models import UpdateGroup

    call_command("seed_demo")
    with scopes_disabled():
        groups = list(UpdateGroup.objects.filter(organization__slug="demo"))
    assert {g.applies_to for g in groups} == {"contact", "company"}
    assert sum(g.next_run_at <= timezone.now() for g in groups) == 1


@pytest.mark.django_db
def test_the_demos_compliance_overview_is_true_from_the_start():
    from monitoring import overview
    from monitoring.models import ComplianceCell

    call_command("seed_demo")
    with scopes_disabled():
        for organization in Organization.objects.all():
            assert overview.drift(organization.pk) == 0
        assert ComplianceCell.objects.exists()
