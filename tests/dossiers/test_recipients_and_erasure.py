"""Where the pieces meet: archived and former recipients, erasure and webhooks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers import messages
from outbox.mail import send_due
from tests import factories

pytestmark = pytest.mark.django_db


def test_reminder_goes_to_former_representative(org, member_client):
    company = factories.company(org)
    rep = factories.contact(org, company=company, is_representative=True, email="rep@example.com")
    field = factories.field(org, "text", applies_to="company")
    factories.dossier(org, company, [field])
    with scopes_disabled():
        send_due()
    mail.outbox.clear()
    # remove rep
    data = {
        "first_name": rep.first_name,
        "last_name": rep.last_name,
        "email": rep.email,
        "phone": "",
        "language": rep.language,
        "company": company.pk,
        "is_representative": "",
    }
    r = member_client.post(f"/o/{org.slug}/profiles/{rep.uuid}/edit/", data)
    assert r.status_code == 302
    with scopes_disabled():
        messages.queue_reminders(timezone.now() + dt.timedelta(days=4))
        send_due(timezone.now() + dt.timedelta(days=4))
    assert not mail.outbox, "former representative got a reminder"


def test_erasure_leaves_webhook_bodies_with_personal_values(org, owner):
    from django_scopes import scope

    from api.models import WebhookDelivery, WebhookEndpoint
    from organizations.actors import Actor
    from profiles.actions import erase_profile
    from profiles.services import NewValue, apply_values

    with scopes_disabled():
        WebhookEndpoint.objects.create(
            organization=org, url="http://127.0.0.1:9/hook", events=["value.changed"]
        )
    person = factories.contact(org, email="ada@example.com")
    job = factories.field(org, "text", label="Home address")
    with scopes_disabled():
        apply_values(person, [NewValue(job, "12 Secret Lane")], source="staff")
    uuid = str(person.uuid)
    with scope(organization=org):
        erase_profile(person, actor=Actor.member(owner))
    with scopes_disabled():
        bodies = list(WebhookDelivery.objects.values_list("body", flat=True))
    assert not any("12 Secret Lane" in b or uuid in b for b in bodies)


def test_archived_contact_still_gets_remind_now(org, member_client):
    person = factories.contact(org, email="arch@example.com")
    field = factories.field(org, "text")
    dossier = factories.dossier(org, person, [field])
    with scopes_disabled():
        send_due()
    mail.outbox.clear()
    r = member_client.post(f"/o/{org.slug}/profiles/{person.uuid}/archive/")
    assert r.status_code in (302, 200)
    with scopes_disabled():
        person.refresh_from_db()
        assert person.archived_at
        messages.remind_now([dossier.pk])
        send_due()
    assert not mail.outbox, "archived contact reminded"


def test_archived_company_reps_keep_working_link(org, member_client):
    from django.test import Client

    company = factories.company(org)
    rep = factories.contact(org, company=company, is_representative=True, email="rep@example.com")
    field = factories.field(org, "text", applies_to="company")
    dossier = factories.dossier(org, company, [field])
    token = factories.token(dossier, rep)
    assert member_client.post(f"/o/{org.slug}/profiles/{company.uuid}/archive/").status_code == 302
    with scopes_disabled():
        company.refresh_from_db()
        assert company.archived_at
    resp = Client().get(f"/d/{token}/")
    assert resp.status_code != 200, "archived company's link still answers"


def test_an_api_key_cannot_approve_what_a_member_answered_for_the_client(org, member):
    from dossiers import review
    from dossiers.models import Dossier, DossierItem

    field = factories.field(org, "text")
    group = factories.group(org, [field], review_required=True)
    dossier = factories.dossier(
        org,
        factories.contact(org),
        [field],
        kind="update",
        update_group_id=group.pk,
        period=dt.date(2026, 1, 31),
    )
    with scopes_disabled():
        Dossier.objects.filter(pk=dossier.pk).update(status="to_review")
        DossierItem.objects.update(review="pending", answered_by_user=member, answer="x")
        with pytest.raises(review.OwnAnswers):
            review.approve(Dossier.objects.get(pk=dossier.pk), None, None)


def test_the_replaced_link_page_speaks_the_recipients_language(client, member_client, org):
    profile = factories.contact(org, language="fr")
    dossier = factories.dossier(org, profile, [factories.field(org, "text")])
    old = factories.token(dossier)
    from dossiers.models import AccessToken

    with scopes_disabled():
        AccessToken.objects.update(replaced_at=timezone.now())
    page = client.get(f"/d/{old}/")
    assert page.status_code == 410
    assert "Ce lien a été remplacé" in page.text
