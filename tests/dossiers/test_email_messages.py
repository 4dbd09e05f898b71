"""What the client receives: HTML and text, from the organisation, in the client's language."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail

from dossiers.models import Dossier
from outbox.mail import send_due
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def update_dossier(org):
    org.name = "L'Atelier & Cie"
    org.default_language = "en"
    org.save()
    address = factories.field(
        org, "text", label="Home address", translations={"fr": {"label": "Adresse"}}
    )
    proof = factories.field(org, "document", label="Proof of address")
    group = factories.group(
        org,
        [address, proof],
        title="Yearly review",
        message="Please check your details.",
        translations={"fr": {"title": "Revue annuelle", "message": "Merci de vérifier."}},
    )

    def make(language: str) -> Dossier:
        person = factories.contact(org, language=language, email=f"{language}@example.com")
        return factories.dossier(
            org,
            person,
            [address, proof],
            kind=Dossier.Kind.UPDATE,
            title=group.title,
            update_group_id=group.pk,
            period=dt.date(2026, 1, 31),
        )

    return make


def _html(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def test_the_invitation_is_html_and_text_from_the_organisation(update_dossier, settings):
    settings.DEFAULT_FROM_EMAIL = "Back office <no-reply@example.com>"
    dossier = update_dossier("en")
    send_due()  # the outbox drain sends the invitation queued with the dossier
    [message] = mail.outbox
    assert message.from_email == "L'Atelier & Cie via Back office <no-reply@example.com>"
    assert message.subject == "L'Atelier & Cie asks you to update your information"
    html = _html(message)
    for text in (message.body, html):
        assert "Yearly review" in text
        assert "Please check your details." in text
        assert "Home address" in text
        assert "Proof of address" in text
        assert f"{dossier.expires_at:%Y}" in text
    assert "L&#x27;Atelier &amp; Cie" in html  # escaped in HTML, and only there
    link = re.search(r"http://\S+/d/\S+/", message.body).group(0)
    assert f'href="{link}"' in html


def test_a_french_client_reads_the_organisations_french_texts(update_dossier):
    update_dossier("fr")
    send_due()  # the outbox drain sends the invitation queued with the dossier
    [message] = mail.outbox
    assert message.subject.startswith("L'Atelier & Cie vous demande")
    for text in (message.body, _html(message)):
        assert "Revue annuelle" in text
        assert "Merci de vérifier." in text
        assert "Adresse" in text
        assert "Home address" not in text
        assert "Proof of address" in text  # no French label given: the default language's


def test_the_portal_shows_the_groups_texts_in_the_clients_language(client, update_dossier):
    dossier = update_dossier("fr")
    page = client.get(f"/d/{factories.token(dossier)}/")
    assert "Revue annuelle" in page.text
    assert "Merci de vérifier." in page.text
    assert "Adresse" in page.text


def test_the_thank_you_page_has_no_double_full_stop(client, org):
    field = factories.field(org, "text")
    dossier = factories.dossier(org, factories.contact(org, language="en"), [field])
    link = f"/d/{factories.token(dossier)}/"
    client.post(link, {f"f_{field.uuid.hex}": "x", "action": "submit"})
    page = client.get(link)
    assert "your answers were sent" in page.text
    assert ".." not in re.sub(r"<[^>]+>", "", page.text)


def test_a_french_client_reads_why_an_answer_came_back_in_french_typography(update_dossier):
    from django_scopes import scopes_disabled

    from dossiers.messages import CHANGES_REQUESTED, queue_link_messages
    from dossiers.models import DossierItem, ItemReview

    dossier = update_dossier("fr")
    send_due()
    mail.outbox.clear()
    with scopes_disabled():
        Dossier.objects.filter(pk=dossier.pk).update(status=Dossier.Status.CHANGES_REQUESTED)
        DossierItem.objects.filter(dossier=dossier, field__label="Home address").update(
            review=ItemReview.REJECTED, rejection_reason="Illisible"
        )
        queue_link_messages([dossier.pk], CHANGES_REQUESTED, again=True)
    send_due()
    [message] = mail.outbox
    assert "Adresse : Illisible" in message.body
    assert "<strong>Adresse</strong> : Illisible" in _html(message)
