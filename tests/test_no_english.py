"""French pages hold no English that the organisation did not type.

The demo organisation (seed_demo) writes in English and gives its texts a French version. The
back office is walked in French from its home by following its own links (one page per URL
name, with the ids they carry), then a French client's portal page and the e-mails French
clients receive. A visible text (an element's text, a button's value, a title, an
aria-label, a placeholder) equal to an English msgid of the catalogue whose French differs
is English the reader should never have met. What the organisation typed (labels, titles,
choices, names, values) is left aside: it is theirs, in whatever language they chose.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import polib
import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import Resolver404, resolve
from django_scopes import scopes_disabled

from dossiers.models import AccessToken, Dossier
from monitoring.models import UpdateGroup
from organizations.models import Organization
from outbox.mail import send_due
from profiles.models import DataField, FieldValue, Profile

pytestmark = pytest.mark.django_db

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "fr" / "LC_MESSAGES" / "django.po"
# Seen once: one page per URL name is enough to see every template's words.
MAX_PAGES = 120
# Never followed: downloads, exports and the way out.
NOT_PAGES = re.compile(r"(\.csv|\.json|/export|/download|/files/|/logout|/documents?/)")
ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")
_SPACES = re.compile(r"\s+")


def _english() -> set[str]:
    """English msgids (and plurals) whose French differs: shown as is, they are English."""
    english: set[str] = set()
    for entry in polib.pofile(str(CATALOGUE)):
        if entry.obsolete or "%" in entry.msgid:
            continue
        french = [entry.msgstr, *entry.msgstr_plural.values()]
        for msgid in (entry.msgid, entry.msgid_plural):
            if msgid and msgid not in french and any(french):
                english.add(_SPACES.sub(" ", msgid).strip())
    return english


def _typed(organization: Organization) -> set[str]:
    """Every text the organisation typed, in any language."""
    texts: set[str] = {organization.name}

    def add(value: Any) -> None:
        if isinstance(value, str):
            texts.add(_SPACES.sub(" ", value).strip())
        elif isinstance(value, dict):
            for v in value.values():
                add(v)
        elif isinstance(value, list):
            for v in value:
                add(v)

    with scopes_disabled():
        for field in DataField.objects.filter(organization=organization):
            add([field.label, field.help_text, field.section, field.choices, field.translations])
        for group in UpdateGroup.objects.filter(organization=organization):
            add([group.title, group.message, group.translations])
        for dossier in Dossier.objects.filter(organization=organization):
            add([dossier.title, dossier.message])
        for profile in Profile.objects.filter(organization=organization):
            add(
                [
                    profile.display_name,
                    profile.first_name,
                    profile.last_name,
                    profile.name,
                    profile.address,
                ]
            )
        for value in FieldValue.objects.filter(profile__organization=organization):
            add(value.value)
    return texts


def _translated_away(organization: Organization) -> set[str]:
    """The organisation's English texts that it gave a different French version: a French
    page shows the French one."""
    english: set[str] = set()
    with scopes_disabled():
        fields = list(DataField.objects.filter(organization=organization))
        groups = list(UpdateGroup.objects.filter(organization=organization))
    for item, names in [(f, ("label", "help_text", "section")) for f in fields] + [
        (g, ("title", "message")) for g in groups
    ]:
        for name in names:
            french = item.translation_of("fr", name)
            if french and french != getattr(item, name):
                english.add(_SPACES.sub(" ", getattr(item, name)).strip())
    for field in fields:
        labels = field.translation_of("fr", "choices") or {}
        english |= {value for value, label in labels.items() if label != value}
    return english


def _visible(html: str) -> list[str]:
    """The texts a reader sees or hears, outside any part marked as another language."""
    tree = lxml.html.fromstring(html)
    for hidden in tree.xpath(
        "//script|//style|//template|//textarea|//body//*[@lang and @lang!='fr']"
    ):
        hidden.drop_tree()
    texts = [t for t in (_SPACES.sub(" ", s).strip() for s in tree.itertext()) if t]
    for name in ATTRIBUTES:
        texts += [_SPACES.sub(" ", v).strip() for v in tree.xpath(f"//@{name}")]
    texts += [
        _SPACES.sub(" ", v).strip()
        for v in tree.xpath("//input[@type='submit' or @type='button']/@value")
    ]
    return texts


def _english_in(texts: list[str], english: set[str], typed: set[str]) -> list[str]:
    return sorted({t for t in texts if t in english and t not in typed})


def _organisation_english_in(texts: list[str], english: set[str]) -> list[str]:
    return sorted({t for t in texts if t in english})


@pytest.fixture
def demo(settings, time_machine) -> Organization:
    time_machine.move_to(dt.datetime(2026, 3, 10, 9, tzinfo=dt.UTC), tick=False)
    settings.DEBUG = True  # the demo refuses what looks like production
    call_command("seed_demo")
    settings.DEBUG = False
    with scopes_disabled():
        return Organization.objects.get(slug="demo")


def _walk(client: Client, start: str) -> dict[str, str]:
    """{url: html} of the back office, by its links, one page per URL name."""
    seen_names: set[str] = set()
    pages: dict[str, str] = {}
    queue = [start]
    while queue and len(pages) < MAX_PAGES:
        url = queue.pop(0)
        path = urlsplit(url).path
        try:
            match = resolve(path)
        except Resolver404:
            continue
        name = f"{match.namespace}:{match.url_name}"
        if name in seen_names or NOT_PAGES.search(path):
            continue
        seen_names.add(name)
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
        assert response.status_code < 500, url
        if response.status_code in (301, 302):
            queue.append(response["Location"])
            continue
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        pages[url] = html
        for href in lxml.html.fromstring(html).xpath("//a/@href"):
            parts = urlsplit(href)
            if not parts.netloc and parts.path.startswith("/"):
                queue.append(href)
    return pages


def test_french_back_office_pages_hold_no_english(demo):
    english, typed = _english(), _typed(demo)
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"
    with scopes_disabled():
        admin = demo.memberships.get(user__username="admin").user
    client.force_login(admin)
    pages = _walk(client, f"/o/{demo.slug}/")
    # The walk reached the profile pages, the fields, the groups, the dossiers and the log.
    visited = " ".join(pages)
    for part in ("/contacts/", "/fields/", "/monitoring/", "/dossiers/", "/settings/audit/"):
        assert part in visited, (part, sorted(pages))
    found = {url: _english_in(_visible(html), english, typed) for url, html in pages.items()}
    assert not {url: words for url, words in found.items() if words}
    # Nor the organisation's own English where it gave a French version: sections, labels,
    # choices, titles read in French.
    theirs = _translated_away(demo)
    assert {"Identity", "Proof of address", "Proof of address and identity"} <= theirs
    found = {url: _organisation_english_in(_visible(html), theirs) for url, html in pages.items()}
    assert not {url: words for url, words in found.items() if words}


def test_a_french_client_reads_no_english_on_the_portal_and_in_e_mails(demo):
    english, typed = _english(), _typed(demo)
    with scopes_disabled():
        dossier = (
            Dossier.objects.filter(organization=demo, profile__language="fr")
            .exclude(status=Dossier.Status.EXPIRED)
            .select_related("profile")
            .first()
        )
        assert dossier is not None
        token = AccessToken.issue(dossier, dossier.profile)
    page = Client().get(f"/d/{token}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert page.status_code == 200
    assert _english_in(_visible(page.content.decode()), english, typed) == []
    assert _organisation_english_in(_visible(page.content.decode()), _translated_away(demo)) == []

    mail.outbox.clear()
    with scopes_disabled():
        send_due()
        french = set(
            Profile.objects.filter(organization=demo, language="fr").values_list("email", flat=True)
        )
    to_french = [m for m in mail.outbox if set(m.to) & french]
    assert to_french
    for message in to_french:
        html = next((c for c, kind in getattr(message, "alternatives", []) if "html" in kind), "")
        texts = [message.subject, *message.body.splitlines()]
        texts = [_SPACES.sub(" ", t).strip() for t in texts]
        if html:
            texts += _visible(html)
        assert _english_in(texts, english, typed) == [], message.subject
