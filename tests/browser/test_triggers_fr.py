"""A trigger in French: the admin makes "Adresse" trigger the group "KYC" with a daily limit,
three addresses change, the group page shows the backlog, and the request opened says why."""

from __future__ import annotations

import pytest
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier
from monitoring import triggers
from monitoring.models import UpdateGroup
from profiles.services import NewValue, apply_values
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def _shot(page, shots, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_an_admin_sets_a_trigger_and_sees_its_backlog_and_its_reason(
    browser, live_server, shots, org, settings
):
    settings.SITE_URL = live_server.url
    org.default_language = "fr"
    org.save()
    make_member(org, "alice", "admin")
    address = factories.field(org, "text", label="Adresse")
    proof = factories.field(org, "document", label="Justificatif", accepted_types=["pdf"])
    kyc = factories.group(org, [proof], title="KYC")
    clients = [
        factories.contact(org, email=f"c{i}@example.com", last_name=f"C{i}") for i in range(3)
    ]

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")

    page.goto(f"{live_server.url}/o/{org.slug}/settings/fields/monitoring/{kyc.uuid}/edit/")
    page.check(f"input[name='trigger_fields'][value='{address.pk}']")
    page.fill("#id_trigger_daily_limit", "2")
    _shot(page, shots, "trigger-1-form-fr")
    page.click("button.primary")
    page.wait_for_selector("text=Champs déclencheurs")
    with scopes_disabled():
        assert UpdateGroup.objects.get(pk=kyc.pk).trigger_daily_limit == 2

    with scope(organization=org):
        for i, client in enumerate(clients):
            apply_values(client, [NewValue(address, f"{i} rue de la Paix")], source="staff")
    page.reload()
    backlog = page.locator("#trigger-backlog")
    assert "3 demandes en attente" in backlog.inner_text()
    assert "envoyées d\u2019ici 2 jours à la limite quotidienne" in backlog.inner_text()
    _shot(page, shots, "trigger-2-backlog-fr")

    assert triggers.dispatch_triggered() == 2
    page.reload()
    assert "1 demande en attente" in page.locator("#trigger-backlog").inner_text()
    with scopes_disabled():
        dossier = Dossier.objects.filter(update_group=kyc).first()
    page.goto(f"{live_server.url}/o/{org.slug}/dossiers/{dossier.uuid}/")
    page.wait_for_selector("text=Demandé car Adresse a changé le")
    _shot(page, shots, "trigger-3-dossier-fr")
    context.close()
