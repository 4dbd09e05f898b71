"""The review page, in French, of answers that came through a link a member redirected."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django_scopes import scopes_disabled

from dossiers import actions
from organizations.actors import Actor
from outbox.mail import send_due
from profiles.actions import update_profile
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)

MALLORY = "mallory@evil.example"


def test_the_member_who_redirected_the_link_is_told_another_member_decides(
    browser, axe, live_server, org, shots
):
    member = make_member(org, "alice", "staff")
    job = factories.field(org, "text", label="Profession")
    profile = factories.contact(
        org, first_name="Claire", last_name="Martin", email="claire@example.com", language="fr"
    )
    group = factories.group(org, [job], review_required=True, title="Mise à jour annuelle")
    dossier = factories.dossier(
        org, profile, [job], kind="update", update_group_id=group.pk, period="2026-01-31"
    )
    send_due()
    mail.outbox.clear()
    with scopes_disabled():
        update_profile(profile, actor=Actor.member(member), identity={"email": MALLORY})
        actions.resend_link(dossier, actor=Actor.member(member))
    send_due()
    [message] = [m for m in mail.outbox if m.to == [MALLORY]]
    token = re.search(r"/d/([\w-]+)/", message.body).group(1)
    field = f"f_{job.uuid.hex}"
    assert (
        Client().post(f"/d/{token}/", {field: "Boulangère", "action": "submit"}).status_code == 302
    )

    context = axe.context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    # A send-back asks for confirmation (hx-confirm): the member confirms.
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.goto(f"{live_server.url}/o/{org.slug}/dossiers/{dossier.uuid}/")
    assert page.get_by_text(f"répondu par un lien envoyé à {MALLORY}").is_visible()
    page.click("form.inline button:has-text('Approuver')")
    # Refused in place, on the item's row.
    refusal = page.get_by_text("un autre membre décide de ses réponses").first
    refusal.wait_for()
    axe.check(page)
    page.screenshot(path=str(shots / "42-four-eyes-refused-fr.png"), full_page=True)
    context.close()
