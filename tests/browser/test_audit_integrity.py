"""Settings, Audit log, Integrity in French: intact, then broken at the position changed."""

from __future__ import annotations

import pytest
from django_scopes import scope, scopes_disabled

from organizations.actors import Actor
from organizations.models import AuditEntry
from profiles.actions import archive_profile, restore_profile
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_admin_sees_whether_the_log_is_intact_and_where_it_breaks(
    browser, axe, live_server, shots, org
):
    org.default_language = "fr"
    org.save()
    alice = make_member(org, "alice", "admin")
    claire = factories.contact(org, first_name="Claire", last_name="Martin")
    with scope(organization=org):
        for _ in range(3):
            archive_profile(claire, actor=Actor.member(alice))
            restore_profile(claire, actor=Actor.member(alice))
    context = axe.context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.goto(f"{live_server.url}/o/{org.slug}/settings/audit/")
    axe.check(page)
    page.screenshot(path=str(shots / "39-audit-log-integrity-link-fr.png"))
    page.click("a.button:has-text('Intégrité')")
    assert page.is_visible("text=Le journal est intact")
    axe.check(page)
    page.screenshot(path=str(shots / "40-audit-integrity-fr.png"), full_page=True)

    with scopes_disabled():
        fourth = AuditEntry.objects.get(organization=org, seq=4)
        AuditEntry.objects.filter(pk=fourth.pk).update(target="Quelqu'un d'autre")
    page.reload()
    assert page.is_visible("text=Le journal a été altéré")
    assert page.locator("tr[data-seq='4']").is_visible()
    axe.check(page)
    page.screenshot(path=str(shots / "41-audit-integrity-broken-fr.png"), full_page=True)
    context.close()
