"""The compliance matrix, a background export's self-updating bar, and the portal on a
phone, in French and English, with screenshots (docs/screenshots with `make screenshots`)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled

from imports import export_jobs
from imports.models import ExportJob
from imports.tasks import run_export
from monitoring import overview
from profiles.models import FieldValue
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)

PEOPLE = [
    ("Hélène", "Dupré"),
    ("Marc", "Petit"),
    ("Claire", "Martin"),
    ("Jean", "Bernard"),
    ("Sophie", "Lefèvre"),
    ("Louis", "Garnier"),
    ("Emma", "Roux"),
    ("Hugo", "Fournier"),
]


def _login(browser, live_server, org, language, **options):
    org.default_language = language
    org.save()
    make_member(org, "alice", "admin")
    context = browser.new_context(locale="fr-FR" if language == "fr" else "en-GB", **options)
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.wait_for_selector("h1")
    return context, page


def _monitored(org) -> None:
    today = timezone.localdate()
    labels = ["Adresse", "Pièce d'identité", "Justificatif de domicile", "Situation", "Revenus"]
    fields = [factories.field(org, "text", label=label) for label in labels]
    factories.group(org, fields[:3], title="Justificatifs annuels")
    factories.group(org, fields[3:], title="Revue KYC")
    proof = factories.field(org, "text", label="Kbis", applies_to="company")
    factories.group(org, [proof], title="Sociétés", applies_to="company")
    factories.company(org, name="Atelier Duval")
    people = [
        factories.contact(org, first_name=first, last_name=last, email=f"{first}@example.fr")
        for first, last in PEOPLE
    ]
    with scopes_disabled():
        for i, person in enumerate(people):
            for j, field in enumerate(fields):
                if (i + j) % 4 == 3:
                    continue  # missing
                offset = [400, 12, -5, 200][(i * 3 + j) % 4]
                FieldValue.objects.create(
                    organization=org,
                    profile=person,
                    field=field,
                    value="x",
                    expires_on=today + dt.timedelta(days=offset),
                )
    factories.dossier(org, people[1], fields[:1], title="Mise à jour")
    overview.rebuild(org.pk)


MATRIX = {
    "fr": {"list": "Liste", "matrix": "Matrice", "valid": "Valide", "missing": "Manquant"},
    "en": {"list": "List", "matrix": "Matrix", "valid": "Valid", "missing": "Missing"},
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_matrix_in_a_browser(browser, live_server, org, shots, language):
    _monitored(org)
    words = MATRIX[language]
    context, page = _login(
        browser, live_server, org, language, viewport={"width": 1000, "height": 800}
    )
    page.goto(f"{live_server.url}/o/{org.slug}/monitoring/overview/?kind=contact")
    page.click(f"nav.tabs a:has-text('{words['matrix']}')")
    page.wait_for_selector("table.matrix")
    assert "view=matrix" in page.url and "kind=contact" in page.url  # the filter kept
    assert page.locator("table.matrix tbody tr").count() == len(PEOPLE)
    assert page.locator("table.matrix thead th[scope=col]").count() == 5
    # Each cell says its state in words (read by screen readers), the legend names them.
    assert (
        words["missing"]
        in page.locator("table.matrix td.status-missing .sr-only").first.text_content()
    )
    assert words["valid"] in page.inner_text(".matrix-legend")
    page.screenshot(path=str(shots / f"overview-matrix-{language}.png"), full_page=True)
    # The names stay in view when the table scrolls sideways, the headings when it scrolls down.
    name = page.locator("table.matrix tbody th").first
    before = name.bounding_box()["x"]
    page.eval_on_selector(".matrix-wrap", "e => { e.scrollLeft = 400; }")
    assert abs(name.bounding_box()["x"] - before) < 1
    # The status filter keeps the layout; the list is one click away with the same filters.
    page.select_option("#status", "missing")
    page.wait_for_url("**status=missing**")
    assert "view=matrix" in page.url
    page.click(f"nav.tabs a:has-text('{words['list']}')")
    page.wait_for_selector("table.table")
    assert "view=matrix" not in page.url and "status=missing" in page.url
    context.close()


EXPORT = {
    "fr": {"file": "Télécharger contacts.csv", "ready": "Le fichier est prêt"},
    "en": {"file": "Download contacts.csv", "ready": "The file is ready"},
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_large_export_shows_a_bar_that_updates_itself(
    browser, live_server, org, shots, language, monkeypatch
):
    monkeypatch.setattr(export_jobs, "INLINE_ROWS", 3)
    queued: list[int] = []
    # No worker here: the job waits, and the test moves it as a worker would.
    monkeypatch.setattr(run_export, "delay", queued.append)
    for first, last in PEOPLE:
        factories.contact(org, first_name=first, last_name=last, email=f"{first}@example.fr")
    context, page = _login(
        browser, live_server, org, language, viewport={"width": 1000, "height": 700}
    )
    page.goto(f"{live_server.url}/o/{org.slug}/contacts/export.csv")
    page.click("button.primary")
    page.wait_for_selector("#export-progress progress")
    assert page.get_attribute("#export-progress progress", "value") == "0"
    with scopes_disabled():
        ExportJob.objects.update(rows_done=5)
    page.wait_for_selector("#export-progress progress[value='5']", timeout=10000)
    page.screenshot(path=str(shots / f"export-progress-{language}.png"), full_page=True)
    assert queued
    run_export(queued[0])
    page.wait_for_selector(f"text={EXPORT[language]['ready']}", timeout=10000)
    assert page.locator("#export-progress[hx-trigger]").count() == 0  # polling stopped
    page.screenshot(path=str(shots / f"export-ready-{language}.png"), full_page=True)
    with page.expect_download() as download:
        page.click(f"a:has-text('{EXPORT[language]['file']}')")
    assert download.value.suggested_filename == "contacts.csv"
    context.close()


PORTAL = {
    "fr": {
        "photo": "Prendre une photo",
        "start": "Réponses : 1 sur 3",
        "after": "Réponses : 2 sur 3",
    },
    "en": {"photo": "Take a photo", "start": "Answered: 1 of 3", "after": "Answered: 2 of 3"},
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_portal_on_a_phone(browser, live_server, org, shots, language, settings):
    settings.SITE_URL = live_server.url
    address = factories.field(org, "text", label="Address")
    address.set_translation("fr", "label", "Adresse")
    job = factories.field(org, "text", label="Job title")
    job.set_translation("fr", "label", "Profession")
    proof = factories.field(org, "document", label="Proof of address")
    proof.set_translation("fr", "label", "Justificatif de domicile")
    with scopes_disabled():
        for field in (address, job, proof):
            field.save()
    claire = factories.contact(org, first_name="Claire", last_name="Martin", language=language)
    with scopes_disabled():
        FieldValue.objects.create(organization=org, profile=claire, field=job, value="Boulangère")
    dossier = factories.dossier(org, claire, [address, job, proof], title="Mise à jour")
    link = f"{live_server.url}/d/{factories.token(dossier)}/"
    words = PORTAL[language]
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="fr-FR" if language == "fr" else "en-GB",
        is_mobile=True,
        has_touch=True,
    )
    page = phone.new_page()
    page.goto(link)
    assert page.inner_text("#answered-text") == words["start"]
    # On a touch screen the camera is offered beside the file chooser, for the same field.
    camera = page.locator("input[data-camera]")
    assert camera.is_visible()
    assert camera.get_attribute("capture") == "environment"
    assert page.is_visible(f"label:has-text('{words['photo']}')")
    page.locator("input[type=text]").first.fill("3 place du Capitole")
    page.click("button[value=draft]")
    page.wait_for_selector(f"#answered-text:has-text('{words['after']}')")
    assert page.locator("input[data-camera]").is_visible()
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('main *')]
          .filter(e => e.getBoundingClientRect().right > 391)
          .map(e => e.tagName + '.' + e.className)"""
    )
    assert overflowing == []
    # Not `full_page`: Chromium's full-page capture drops the touch emulation, and with it
    # the camera input that a touch screen shows.
    page.set_viewport_size({"width": 390, "height": 1300})
    page.screenshot(path=str(shots / f"portal-phone-{language}.png"))
    phone.close()
    # At a desk (a mouse, no camera) only the file chooser shows.
    desk = browser.new_context(viewport={"width": 1200, "height": 800})
    page = desk.new_page()
    page.goto(link)
    assert not page.locator("input[data-camera]").is_visible()
    desk.close()
