"""The home, a sorted list, a bulk action and the header's search, walked in a browser in
French and in English, with screenshots of each (docs/screenshots with `make screenshots`)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone
from django_scopes import scopes_disabled

from dossiers.models import Dossier
from monitoring import overview
from monitoring.models import UpdateRun
from profiles.models import FieldValue, Profile
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)

# The clock runs from here (the dates and the chart do not depend on the day of the run).
START = dt.datetime(2026, 3, 10, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(START, tick=True):
        yield


TEXTS = {
    "fr": {
        "home": "Accueil",
        "review": "dossier à vérifier",
        "archive": "Archiver…",
        "confirm": "Archiver 2 profils ?",
        "done": "2 profils ont été archivés.",
        "contacts": "Contacts",
        "email_header": "E-mail",
    },
    "en": {
        "home": "Home",
        "review": "dossier to review",
        "archive": "Archive…",
        "confirm": "Archive 2 profiles?",
        "done": "2 profiles were archived.",
        "contacts": "Contacts",
        "email_header": "E-mail",
    },
}


def _world(org) -> None:
    address = factories.field(org, "text", label="Adresse")
    passport = factories.field(org, "date", label="Passeport")
    people = [
        factories.contact(org, first_name=first, last_name=last, email=email)
        for first, last, email in (
            ("Hélène", "Dupré", "helene.dupre@example.fr"),
            ("Marc", "Petit", "marc.petit@example.fr"),
            ("Claire", "Martin", "claire.martin@example.fr"),
            ("Jean", "Bernard", "jean.bernard@example.fr"),
            ("Sophie", "Lefèvre", "sophie.lefevre@example.fr"),
        )
    ]
    today = timezone.localdate()
    group = factories.group(
        org,
        [address, passport],
        title="Justificatifs annuels",
        start_date=today + dt.timedelta(days=4),
        interval_unit="weeks",
        interval_count=2,
    )
    with scopes_disabled():
        for i, person in enumerate(people[:3]):
            FieldValue.objects.create(
                organization=org,
                profile=person,
                field=address,
                value=f"{i + 1} rue de la Paix",
                expires_on=today + dt.timedelta(days=(-5 if i == 0 else 12)),
            )
    review = factories.dossier(org, people[0], [passport], title="Mise à jour KYC")
    factories.dossier(org, people[1], [passport], title="Mise à jour KYC")
    with scopes_disabled():
        Dossier.objects.filter(pk=review.pk).update(status=Dossier.Status.TO_REVIEW)
        UpdateRun.objects.create(
            organization=org,
            group=group,
            period=today,
            index=0,
            due_at=timezone.now(),
        )
    factories.dossier(
        org,
        people[3],
        [address],
        kind=Dossier.Kind.UPDATE,
        update_group_id=group.pk,
        period=today,
        title="Justificatifs annuels",
    )
    overview.rebuild(org.pk)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_home_lists_bulk_and_search_in_a_browser(browser, axe, live_server, org, shots, language):
    org.default_language = language
    org.save()
    make_member(org, "alice", "admin")
    _world(org)
    words = TEXTS[language]
    context = axe.context(
        viewport={"width": 1280, "height": 900},
        locale="fr-FR" if language == "fr" else "en-GB",
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")

    # The home opens first: what needs attention, the run in progress, the coming requests.
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == words["home"]
    assert page.get_attribute("html", "lang") == language
    assert words["review"] in page.inner_text(".tiles")
    page.wait_for_selector("#runs progress")
    assert page.locator("svg[role=img]").count() == 1
    axe.check(page, f"home-{language}")
    page.screenshot(path=str(shots / f"home-{language}.png"), full_page=True)
    # The run finishes: the polling replaces the section within a few seconds.
    with scopes_disabled():
        UpdateRun.objects.update(finished_at=timezone.now())
    page.wait_for_selector("#runs progress", state="detached", timeout=10000)

    # A tile's link opens its list.
    page.click(f".tiles a:has-text('{words['review']}')")
    assert page.url.endswith("/dossiers/to-review/")

    # Contacts sorted by e-mail, the header says so; two rows ticked, archived after a page
    # that says how many.
    page.goto(f"{live_server.url}/o/{org.slug}/contacts/")
    page.click(f"th >> a.sort:has-text('{words['email_header']}')")
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "ascending"
    assert "sort=email" in page.url
    emails = page.locator("tbody tr td:nth-child(3)").all_inner_texts()
    assert emails == sorted(emails)
    page.check("tbody tr:nth-child(1) input[type=checkbox]")
    page.check("tbody tr:nth-child(2) input[type=checkbox]")
    axe.check(page, f"contacts-sorted-{language}")
    page.screenshot(path=str(shots / f"contacts-sorted-{language}.png"), full_page=True)
    page.click(f"button:has-text('{words['archive']}')")
    assert words["confirm"] in page.inner_text("h1")
    axe.check(page, f"bulk-archive-{language}")
    page.screenshot(path=str(shots / f"bulk-archive-{language}.png"), full_page=True)
    page.click("button[name=confirm]")
    assert words["done"] in page.inner_text(".messages")
    with scopes_disabled():
        assert Profile.objects.filter(archived_at__isnull=False).count() == 2

    # The header's search, by keyboard: accents typed or not (SQLite compares them as typed).
    page.focus("#topsearch")
    page.keyboard.type("dupré")
    page.keyboard.press("Enter")
    page.wait_for_selector("#found-contacts")
    assert "Hélène Dupré" in page.inner_text("#found-contacts + ul")
    axe.check(page, f"search-{language}")
    page.screenshot(path=str(shots / f"search-{language}.png"), full_page=True)
    context.close()


def test_the_home_fits_a_phone(browser, axe, live_server, org, shots):
    make_member(org, "alice", "admin")
    _world(org)
    context = axe.context(viewport={"width": 390, "height": 844}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.wait_for_selector(".tiles")
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
          .filter(e => e.getBoundingClientRect().right > 391)
          .map(e => e.tagName + '.' + e.className)"""
    )
    assert overflowing == []
    axe.check(page, "home-phone-fr")
    page.screenshot(path=str(shots / "home-phone-fr.png"), full_page=True)
    context.close()
