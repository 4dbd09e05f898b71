"""Which language a text is typed in, the organisation's texts read in the reader's language,
and words that say one thing each, in French and in English."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import lxml.html
import pytest
from django.conf import settings
from django.test import Client
from django.utils import translation
from django_scopes import scope

from organizations.actors import Actor
from organizations.audit import describe
from profiles import value_rows
from profiles.actions import set_values
from tests import factories

pytestmark = pytest.mark.django_db


def _client(user, language: str) -> Client:
    client = Client()
    client.force_login(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def _labels(page) -> list[str]:
    tree = lxml.html.fromstring(page.content)
    return [" ".join(label.text_content().split()) for label in tree.xpath("//form//label")]


@pytest.mark.parametrize(
    ("default", "language", "first", "second"),
    [
        ("en", "en", "Title (English)", "Title (French)"),
        ("en", "fr", "Titre (anglais)", "Titre (français)"),
        ("fr", "fr", "Titre (français)", "Titre (anglais)"),
        ("fr", "en", "Title (French)", "Title (English)"),
    ],
)
def test_the_group_form_names_the_language_of_each_text_default_first(
    org, owner, default, language, first, second
):
    org.default_language = default
    org.save()
    page = _client(owner, language).get(f"/o/{org.slug}/settings/fields/monitoring/new/")
    assert page.status_code == 200
    labels = _labels(page)
    assert labels.index(first) < labels.index(second)
    tree = lxml.html.fromstring(page.content)
    # Side by side, the default language's one required, the other not.
    [row] = tree.xpath("//div[@class='languages'][.//input[@name='title']]")
    assert [i.get("name") for i in row.xpath(".//input")] == [
        "title",
        "title_fr" if default == "en" else "title_en",
    ]
    assert "required" in row.xpath(".//div[contains(@class, 'field')]")[0].get("class")
    assert "required" not in row.xpath(".//div[contains(@class, 'field')]")[1].get("class")
    # No text hides in a collapsed box any more (the header's menu folds on a phone; nothing
    # of the form does).
    assert not tree.xpath("//main//details")


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_data_field_form_names_the_language_of_label_help_section_and_choices(
    org, owner, language
):
    org.default_language = "en"
    org.save()
    page = _client(owner, language).get(f"/o/{org.slug}/settings/fields/contacts/new/")
    labels = _labels(page)
    expected = {
        "en": ["Label (English)", "Label (French)", "Section (English)", "Section (French)"],
        "fr": [
            "Libellé (anglais)",
            "Libellé (français)",
            "Rubrique (anglais)",
            "Rubrique (français)",
        ],
    }[language]
    assert [label for label in labels if label in expected] == expected


def test_a_section_typed_in_two_languages_is_saved_and_read_in_the_readers(org, owner):
    org.default_language = "en"
    org.save()
    saved = _client(owner, "fr").post(
        f"/o/{org.slug}/settings/fields/contacts/new/",
        {
            "label": "Date of birth",
            "label_fr": "Date de naissance",
            "type": "date",
            "section": "Identity",
            "section_fr": "Identité",
            "max_size_mb": "10",
        },
    )
    assert saved.status_code == 302
    with scope(organization=org):
        field = org.datafield_set.get(label="Date of birth")
        profile = factories.contact(org)
        set_values(profile, actor=Actor.system("test"), values=[(field, "1990-04-01")])
    for language, heading, label in [
        ("fr", "Identité", "Date de naissance"),
        ("en", "Identity", "Date of birth"),
    ]:
        page = _client(owner, language).get(f"/o/{org.slug}/profiles/{profile.uuid}/")
        tree = lxml.html.fromstring(page.content)
        assert heading in [h.text_content().strip() for h in tree.xpath("//h3")]
        assert label in [th.text_content().strip() for th in tree.xpath("//th[@scope='row']")]


@pytest.mark.parametrize(("language", "title"), [("fr", "Revue annuelle"), ("en", "Yearly review")])
def test_a_group_title_reads_in_the_readers_language_else_the_default(org, owner, language, title):
    org.default_language = "en"
    org.save()
    group = factories.group(org, title="Yearly review", translations={"fr": {"title": title}})
    client = _client(owner, language)
    listed = client.get(f"/o/{org.slug}/settings/fields/monitoring/")
    assert title in listed.text
    detail = client.get(f"/o/{org.slug}/settings/fields/monitoring/{group.uuid}/")
    assert f"<title>{title}" in detail.text.replace("\n", "")
    if language == "fr":
        assert "Yearly review" not in listed.text
    untranslated = factories.group(org, title="Quarterly check")
    assert "Quarterly check" in client.get(f"/o/{org.slug}/settings/fields/monitoring/").text
    assert untranslated.local_title == "Quarterly check"


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("fr", "La date d\u2019expiration de « Justificatif de domicile » a été enregistrée."),
        ("en", "The expiry date of “Proof of address” was saved."),
    ],
)
def test_the_expiry_message_names_the_field_in_the_readers_language(
    org, owner, language, message, time_machine
):
    time_machine.move_to(dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC), tick=False)
    org.default_language = "en"
    org.save()
    field = factories.field(
        org,
        "text",
        label="Proof of address",
        translations={"fr": {"label": "Justificatif de domicile"}},
    )
    profile = factories.contact(org)
    with scope(organization=org):
        set_values(profile, actor=Actor.system("test"), values=[(field, "On file")])
    page = _client(owner, language).post(
        f"/o/{org.slug}/profiles/{profile.uuid}/fields/{field.uuid}/monitoring/",
        {"expires_on": "2027-01-31", "action": "save"},
        follow=True,
    )
    assert message in page.text.replace("&#x27;", "'").replace("&quot;", '"')


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", ["Expiré le 01/02/2026", "Expire le 20/03/2026", "Valide jusqu\u2019au 31/12/2027"]),
        ("en", ["Expired on 01/02/2026", "Expires on 20/03/2026", "Valid until 31/12/2027"]),
    ],
)
def test_expiry_badges_read_in_each_language(org, language, expected):
    with translation.override(language):
        badges = [
            value_rows._expiry_badge(status, date)
            for status, date in [
                ("expired", "01/02/2026"),
                ("expiring", "20/03/2026"),
                ("valid", "31/12/2027"),
            ]
        ]
    texts = [lxml.html.fromstring(b).text_content() for b in badges]
    assert texts == expected


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="gettext's xgettext is not installed")
def test_the_expiry_badges_are_found_by_the_catalogues_extraction(tmp_path):
    """`makemessages` runs xgettext with these keywords: each badge's text must be a literal
    it finds, or the next refresh of the catalogue drops its French."""
    source = Path(settings.BASE_DIR) / "profiles" / "value_rows.py"
    out = tmp_path / "found.pot"
    subprocess.run(
        [
            "xgettext",
            "--language=Python",
            "--keyword=gettext_noop",
            "--keyword=_",
            "--from-code=UTF-8",
            "-o",
            str(out),
            str(source),
        ],
        check=True,
    )
    found = out.read_text()
    for msgid in ("Expired on %(date)s", "Expires on %(date)s", "Valid until %(date)s"):
        assert f'msgid "{msgid}"' in found


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", "Filtres : Du : 01/03/2026 ; Au : 31/03/2026"),
        ("en", "Filters: From: 01/03/2026; To: 31/03/2026"),
    ],
)
def test_a_date_range_in_the_log_reads_from_and_to_not_recipient(language, expected):
    with translation.override(language):
        said = describe(
            "organizations.audit.exported", {"filters": "since=2026-03-01, until=2026-03-31"}
        )
    assert said == expected


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "fr",
            {"Renvoyer au client", "Envoyer le lien à nouveau", "Vider la date d\u2019expiration"},
        ),
        ("en", {"Send back", "Send the link again", "Clear the expiry date"}),
    ],
)
def test_one_word_one_meaning(language, words):
    with translation.override(language):
        from django.utils.translation import gettext, pgettext

        said = {
            gettext("Send back"),
            gettext("Send the link again"),
            gettext("Clear the expiry date"),
        }
        assert said == words
        # A badge of a sent-back answer is not mistaken for "sent".
        assert gettext("Rejected") != gettext("Sent")
        if language == "fr":
            assert pgettext("recipient of a message", "To") == "Destinataire"
            assert pgettext("last day of a range", "To") == "Au"
        # One name for the second factor, in the menu and in the pages.
        if language == "fr":
            assert gettext("Two-factor") == gettext("Second factor") == "Second facteur"


@pytest.mark.parametrize(
    ("language", "link"),
    [("fr", "Revue annuelle du 10/03/2026"), ("en", "Yearly review of 10/03/2026")],
)
def test_a_value_from_a_dossier_links_to_it_by_its_title_and_date(
    org, owner, language, link, time_machine
):
    time_machine.move_to(dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC), tick=False)
    org.default_language = "en"
    org.save()
    field = factories.field(org, "text", label="Job")
    group = factories.group(
        org, [field], title="Yearly review", translations={"fr": {"title": "Revue annuelle"}}
    )
    profile = factories.contact(org)
    dossier = factories.dossier(org, profile, [field], title=group.title)
    with scope(organization=org):
        type(dossier).objects.filter(pk=dossier.pk).update(update_group=group)
        set_values(profile, actor=Actor.system("test"), values=[(field, "Baker")])
        from profiles.models import FieldValueHistory, Source

        FieldValueHistory.objects.filter(profile=profile).update(
            source=Source.DOSSIER, dossier_uuid=dossier.uuid
        )
    page = _client(owner, language).get(f"/o/{org.slug}/profiles/{profile.uuid}/history/")
    tree = lxml.html.fromstring(page.content)
    texts = [
        a.text_content().strip() for a in tree.xpath("//a[contains(@href, '/dossiers/records/')]")
    ]
    assert texts == [link]
    assert str(dossier.uuid)[:8] not in " ".join(texts)
