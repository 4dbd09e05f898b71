"""A dossier's messages are linked by the dossiers app (`DossierMessage`), not named by the
outbox: the purge and the erasure delete them with what they are about."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dossiers.messages import queue_submission_notices
from dossiers.models import Dossier, DossierMessage
from dossiers.retention import purge_dossiers
from organizations.actors import Actor
from organizations.models import Membership
from outbox.models import Message
from profiles import actions as profile_actions
from tests import factories


def test_every_message_of_a_dossier_is_linked_to_it_and_its_recipient(org, owner):
    field = factories.field(org, "text")
    person = factories.contact(org, email="ada@example.com")
    dossier = factories.dossier(org, person, [field])  # its invitation is queued
    with scopes_disabled():
        Membership.objects.filter(user=owner).update(notices=Membership.Notices.EACH)
    with scope(organization=org):
        dossier.submitted_at = timezone.now()
        queue_submission_notices(dossier, person)
        links = {
            (link.message.kind, link.dossier_id, link.profile_id)
            for link in DossierMessage.objects.select_related("message")
        }
        assert Message.objects.count() == len(links)
    assert ("dossiers.invitation", dossier.pk, person.pk) in links
    assert ("dossiers.confirmation", dossier.pk, person.pk) in links
    assert ("dossiers.staff_notice", dossier.pk, None) in links


def test_the_purge_deletes_the_dossiers_messages(org):
    field = factories.field(org, "text")
    person = factories.contact(org, email="ada@example.com")
    kept = factories.dossier(org, factories.contact(org, email="b@example.com"), [field])
    factories.dossier(org, person, [field], kind="update")
    with scopes_disabled():
        Dossier.objects.exclude(pk=kept.pk).update(
            status="expired", created_at=timezone.now() - dt.timedelta(days=40)
        )
        Message.objects.update(status="undeliverable")
        assert purge_dossiers() == 1
        assert list(DossierMessage.objects.values_list("dossier_id", flat=True)) == [kept.pk]
        assert list(Message.objects.values_list("address", flat=True)) == ["b@example.com"]


def test_the_erasure_deletes_the_messages_to_the_person(org, owner):
    field = factories.field(org, "text", applies_to="company")
    company = factories.company(org)
    representative = factories.contact(
        org, email="rep@example.com", company=company, is_representative=True
    )
    factories.dossier(org, company, [field])  # its invitation goes to the representative
    with scopes_disabled():
        assert list(Message.objects.values_list("address", flat=True)) == ["rep@example.com"]
    with scope(organization=org):
        profile_actions.erase_profile(representative, actor=Actor.member(owner))
    with scopes_disabled():
        assert not Message.objects.exists() and not DossierMessage.objects.exists()
        assert Dossier.objects.filter(profile=company).exists()
