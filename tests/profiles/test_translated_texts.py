"""The organisation's own texts in the reader's language, falling back to its default one."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import translation
from django_scopes import scopes_disabled

from monitoring.models import UpdateGroup
from profiles import fieldtypes
from profiles.models import DataField, FieldValue
from tests import factories

pytestmark = pytest.mark.django_db


def _in(language: str, user) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def _field_form(org, **extra):
    return {
        "label": "Favourite colour",
        "type": "choice",
        "help_text": "The one you like best.",
        "section": "",
        "max_size_mb": "10",
        "choices_text": "Red\nBlue",
        **extra,
    }


def test_a_field_is_given_french_texts_and_french_readers_get_them(org, owner):
    org.default_language = "en"
    org.save()
    url = f"/o/{org.slug}/settings/fields/contacts/new/"
    response = _in("en", owner).post(
        url,
        _field_form(
            org,
            label_fr="Couleur préférée",
            help_text_fr="Celle que vous préférez.",
            choices_fr="Rouge\nBleu",
        ),
    )
    assert response.status_code == 302
    with scopes_disabled():
        field = DataField.objects.get()
    assert field.label == "Favourite colour"
    assert field.choices == ["Red", "Blue"]  # the stored values do not depend on the language
    assert field.translations == {
        "fr": {
            "label": "Couleur préférée",
            "help_text": "Celle que vous préférez.",
            "choices": {"Red": "Rouge", "Blue": "Bleu"},
        }
    }
    with translation.override("fr"):
        form_field = fieldtypes.form_field(field)
        assert form_field.label == "Couleur préférée"
        assert form_field.help_text == "Celle que vous préférez."
        assert list(form_field.choices)[1:] == [("Red", "Rouge"), ("Blue", "Bleu")]
        assert fieldtypes.display(field, "Blue") == "Bleu"
    with translation.override("en"):
        assert fieldtypes.form_field(field).label == "Favourite colour"
        assert fieldtypes.display(field, "Blue") == "Blue"


def test_a_french_reader_stores_the_choice_not_its_label(org, owner):
    field = factories.field(
        org,
        "choice",
        choices=["Red", "Blue"],
        translations={"fr": {"choices": {"Red": "Rouge", "Blue": "Bleu"}}},
    )
    profile = factories.contact(org)
    client = _in("fr", owner)
    page = client.get(f"/o/{org.slug}/profiles/{profile.uuid}/values/")
    assert '<option value="Blue">Bleu</option>' in page.text
    client.post(f"/o/{org.slug}/profiles/{profile.uuid}/values/", {f"f_{field.uuid.hex}": "Blue"})
    with scopes_disabled():
        assert FieldValue.objects.get(field=field).value == "Blue"
    assert "Bleu" in client.get(f"/o/{org.slug}/profiles/{profile.uuid}/").text
    english = _in("en", owner).get(f"/o/{org.slug}/profiles/{profile.uuid}/").text
    assert "Blue" in english
    assert "Bleu" not in english


def test_a_missing_translation_falls_back_to_the_default_language(org):
    org.default_language = "fr"
    org.save()
    field = factories.field(org, "text", label="Adresse", translations={"en": {"label": ""}})
    with translation.override("en"):
        assert field.local_label == "Adresse"
    with translation.override("fr"):
        assert field.local_label == "Adresse"


def test_the_form_offers_only_the_other_language_and_checks_the_choice_labels(org, owner):
    org.default_language = "fr"
    org.save()
    url = f"/o/{org.slug}/settings/fields/contacts/new/"
    page = _in("fr", owner).get(url)
    assert 'name="label_en"' in page.text
    assert 'name="label_fr"' not in page.text
    response = _in("en", owner).post(url, _field_form(org, choices_en="Red\nBlue\nGreen"))
    assert response.status_code == 200
    assert "Give one label per choice, in the same order." in response.text
    with scopes_disabled():
        assert not DataField.objects.exists()


def test_a_group_has_a_message_and_texts_in_the_other_language(org, owner):
    org.default_language = "en"
    org.save()
    field = factories.field(org, "text")
    response = _in("en", owner).post(
        f"/o/{org.slug}/settings/fields/monitoring/new/",
        {
            "title": "Yearly review",
            "message": "Please check your details.",
            "title_fr": "Revue annuelle",
            "message_fr": "Merci de vérifier vos informations.",
            "applies_to": "contact",
            "fields": [field.pk],
            "start_date": "2030-01-01",
            "frequency": "1-years",
        },
    )
    assert response.status_code == 302, response.context["form"].errors
    with scopes_disabled():
        group = UpdateGroup.objects.get()
    with translation.override("fr"):
        assert (group.local_title, group.local_message) == (
            "Revue annuelle",
            "Merci de vérifier vos informations.",
        )
    with translation.override("en"):
        assert (group.local_title, group.local_message) == (
            "Yearly review",
            "Please check your details.",
        )


def test_the_demo_organisation_speaks_french_to_its_french_clients(db, settings):
    from django.core.management import call_command

    from organizations.models import Organization

    settings.DEBUG = True  # a laptop: the demo refuses what looks like production
    call_command("seed_demo")
    with scopes_disabled():
        demo = Organization.objects.get(name="Demo SA")
        birth = DataField.objects.get(organization=demo, label="Date of birth")
        group = UpdateGroup.objects.get(organization=demo, title="Proof of address and identity")
    with translation.override("fr"):
        assert birth.local_label == "Date de naissance"
        assert group.local_title == "Justificatif de domicile et identité"
    with translation.override("en"):
        assert birth.local_label == "Date of birth"
        assert group.local_message.startswith("Please check your details")
