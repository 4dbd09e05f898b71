from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.messages import queue_submission_notices
from dossiers.models import Dossier, DossierItem, DossierRecord
from dossiers.retention import purge_dossiers
from dossiers.tasks import send_reminders
from organizations.models import Membership
from outbox.mail import send_due
from outbox.models import Message
from profiles.models import Document, FieldValue
from tests import factories

pytestmark = pytest.mark.django_db


def _link(message) -> str:
    return re.search(r"http://\S+/d/(\S+)/", message.body).group(1)


def test_a_contact_is_invited_in_its_language_with_a_working_link(client, org, settings):
    settings.SITE_URL = "http://testserver"
    field = factories.field(org, "text")
    fr = factories.contact(org, language="fr", email="fr@example.com")
    en = factories.contact(org, language="en", email="en@example.com")
    factories.dossier(org, fr, [field])
    factories.dossier(org, en, [field])
    assert send_due() == 2
    assert send_due() == 0  # a second drain sends nothing again
    by_to = {m.to[0]: m for m in mail.outbox}
    assert by_to["fr@example.com"].subject == "Acme vous demande de mettre à jour vos informations"
    assert "Bonjour" in by_to["fr@example.com"].body
    assert "Hello" in by_to["en@example.com"].body
    assert client.get(f"/d/{_link(by_to['en@example.com'])}/").status_code == 200


def test_the_greeting_names_a_person_by_first_name_in_either_language(org):
    field = factories.field(org, "text")
    fr = factories.contact(
        org, language="fr", email="fr@example.com", first_name="Claire", last_name="Martin"
    )
    en = factories.contact(
        org, language="en", email="en@example.com", first_name="Ada", last_name="Lovelace"
    )
    unnamed = factories.contact(org, language="fr", email="x@example.com", first_name="")
    for person in (fr, en, unnamed):
        factories.dossier(org, person, [field])
    send_due()
    by_to = {m.to[0]: m for m in mail.outbox}
    assert by_to["fr@example.com"].body.startswith("Bonjour Claire,\n")
    assert "Bonjour Claire,</p>" in by_to["fr@example.com"].alternatives[0][0]
    assert by_to["en@example.com"].body.startswith("Hello Ada,\n")
    assert "Lovelace" not in by_to["en@example.com"].body
    assert by_to["x@example.com"].body.startswith("Bonjour,\n")


def test_a_company_is_greeted_without_a_name(org):
    from dossiers.emails import link_message

    field = factories.field(org, "text", applies_to="company")
    company = factories.company(org, name="Initech", email="desk@initech.example", language="en")
    dossier = factories.dossier(org, company, [field])
    with scopes_disabled():
        message = link_message(dossier, company, "invitation", sent_to=company.email)
    assert message.body.startswith("Hello,\n")
    assert "Hello Initech" not in message.body


def test_a_companys_request_goes_to_its_representatives(org):
    field = factories.field(org, "text", applies_to="company")
    company = factories.company(org)
    factories.contact(org, email="rep1@example.com", company=company, is_representative=True)
    factories.contact(org, email="rep2@example.com", company=company, is_representative=True)
    factories.contact(org, email="staff@example.com", company=company)
    factories.dossier(org, company, [field])
    send_due()
    assert sorted(m.to[0] for m in mail.outbox) == ["rep1@example.com", "rep2@example.com"]


def _sent_days_ago(days: int) -> None:
    with scopes_disabled():
        Message.objects.filter(kind="dossiers.invitation").update(
            done_at=timezone.now() - dt.timedelta(days=days)
        )


def test_reminders_follow_the_ladder_one_rung_at_a_time(org):

    field = factories.field(org, "text")
    profile = factories.contact(org)
    factories.dossier(org, profile, [field], expires_at=timezone.now() + dt.timedelta(days=30))
    send_due()
    mail.outbox.clear()
    assert send_reminders() == 0  # just sent: no rung due yet
    _sent_days_ago(3)
    assert send_reminders() == 1
    assert send_reminders() == 0  # the same rung, once
    assert send_due() == 1
    assert mail.outbox[0].subject.startswith("Rappel")  # the contact reads French
    _sent_days_ago(20)  # 10 days passed too, and the pass was late: one reminder, not two
    assert send_reminders() == 1
    assert send_reminders() == 0


def test_a_group_sets_its_own_ladder(org):
    from dossiers.messages import latest_step

    now = timezone.now()
    sent, closes = now - dt.timedelta(days=5), now + dt.timedelta(days=1, hours=1)
    assert latest_step(sent, closes, now, (3, 10), (2,)) == "before-2"
    assert latest_step(sent, closes, now, (3, 10), ()) == "after-3"
    assert latest_step(sent, closes, now, (), ()) is None
    assert latest_step(now, closes, now, (3,), (2,)) is None


def test_submission_confirms_to_the_client_and_notifies_who_asked_for_each(org, owner):
    field = factories.field(org, "text")
    profile = factories.contact(org, email="client@example.com")
    dossier = factories.dossier(org, profile, [field])
    send_due()
    mail.outbox.clear()
    with scopes_disabled():
        Membership.objects.filter(user=owner).update(notices="each")
        Dossier.objects.filter(pk=dossier.pk).update(status="submitted")
        dossier.refresh_from_db()
        queue_submission_notices(dossier, profile)
        queue_submission_notices(dossier, profile)  # written twice, sent once
    assert send_due() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["client@example.com", "owner@example.com"]


def test_the_purge_keeps_profile_documents_and_leaves_no_orphan(
    client, org, django_capture_on_commit_callbacks
):
    field = factories.field(org, "document")
    text = factories.field(org, "text")
    submitted_profile = factories.contact(org, email="a@example.com")
    draft_profile = factories.contact(org, email="b@example.com")
    submitted = factories.dossier(org, submitted_profile, [field, text], kind="update")
    draft = factories.dossier(org, draft_profile, [field, text], kind="update")
    for dossier, action in [(submitted, "submit"), (draft, "draft")]:
        token = factories.token(dossier)
        with scopes_disabled():
            names = {
                i.field_id: f"f_{i.field.uuid.hex}"
                for i in DossierItem.objects.filter(dossier=dossier)
            }
        upload = SimpleUploadedFile("p.pdf", factories.PDF, "application/pdf")
        client.post(
            f"/d/{token}/", {names[field.pk]: upload, names[text.pk]: "x", "action": action}
        )
    with scopes_disabled():
        kept = Document.objects.get().file.name
        draft_key = DossierItem.objects.exclude(upload="").get().upload.name
    assert default_storage.exists(kept) and default_storage.exists(draft_key)

    later = timezone.now() + dt.timedelta(days=32)
    with scopes_disabled():
        assert purge_dossiers(now=timezone.now()) == 0
        with django_capture_on_commit_callbacks(execute=True):
            assert purge_dossiers(now=later) == 2
        assert not Dossier.objects.exists()
        assert FieldValue.objects.get(field=field).document.file.name == kept
        records = {r.dossier_uuid: r for r in DossierRecord.objects.all()}
        # By reference to the recipient's profile, shown with their address.
        draft_recipients = records[draft.uuid].recipients_shown
    assert default_storage.exists(kept)
    assert not default_storage.exists(draft_key)
    assert records[submitted.uuid].outcome == "submitted"
    assert records[draft.uuid].outcome == "in_progress"
    assert "b@example.com" in draft_recipients


def test_the_purge_spares_classic_dossiers_and_has_a_command(org, capsys):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    factories.dossier(org, profile, [field], kind="classic")
    old = factories.dossier(org, profile, [field], kind="update")
    with scopes_disabled():
        Dossier.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=40))
    call_command("purge_dossiers")
    assert "1 purged" in capsys.readouterr().out
    with scopes_disabled():
        assert list(Dossier.objects.values_list("kind", flat=True)) == ["classic"]


def test_sending_the_link_again_replaces_the_older_links(
    client, member_client, org, django_capture_on_commit_callbacks
):
    field = factories.field(org, "text")
    profile = factories.contact(org)
    dossier = factories.dossier(org, profile, [field])
    old = factories.token(dossier)
    assert client.get(f"/d/{old}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        member_client.post(f"/o/{org.slug}/dossiers/{dossier.uuid}/resend/")
    send_due()
    page = client.get(f"/d/{old}/")
    assert page.status_code == 410
    assert "lien plus récent" in page.text  # in the contact's language
    assert client.get(f"/d/{_link(mail.outbox[-1])}/").status_code == 200
