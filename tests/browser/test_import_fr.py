"""The import in French, as a compliance team adopting the product lives it: a French Excel
CSV uploaded, its columns mapped, a dry run with its errors, the import with its progress
bar, then the profiles and their history."""

from __future__ import annotations

import threading

import pytest
from django_scopes import scopes_disabled

from imports import jobs, tasks
from profiles.models import FieldValue, Profile
from tests import factories
from tests.conftest import make_member

pytestmark = pytest.mark.django_db(transaction=True)

CSV = (
    "Référence;Prénom;Nom;E-mail;Date de naissance;Revenu annuel;Situation\r\n"
    "C1;Zoé;Dupré;zoe@example.com;31/01/1990;42 500,50;Indépendant\r\n"
    "C2;Jean;Martin;jean@example.com;31/02/1985;12,5;Salarié\r\n"
    "C3;Léa;Petit;lea@example.com;01/03/1992;1 000;Retraitée\r\n"
    "C4;Hugo;Bernard;hugo@example.com;15/07/1988;30 000;Salarié\r\n"
    "C5;Inès;Robert;ines@example.com;02/02/1995;27 300,75;Indépendant\r\n"
    "C6;Paul;Richard;paul@example.com;;;\r\n"
).encode("cp1252")


def _shot(page, shots, name: str, axe) -> None:
    axe.check(page, name)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_a_french_team_imports_its_clients(
    browser, axe, live_server, shots, org, settings, tmp_path, monkeypatch
):
    settings.SITE_URL = live_server.url
    org.default_language = "fr"
    org.save()
    make_member(org, "alice", "admin")
    factories.field(org, "date", label="Date de naissance")
    factories.field(org, "number", label="Revenu annuel")
    factories.field(org, "choice", label="Situation", choices=["Salarié", "Indépendant"])

    # A worker of its own, as in production: the run starts when the page has answered, and
    # holds after its first batch until the test has seen the progress bar.
    monkeypatch.setattr(jobs, "BATCH", 2)
    gate, first_batch = threading.Event(), threading.Event()
    original = jobs.actions.import_rows

    calls: list[int] = []

    def held(**kwargs):
        if not kwargs.get("dry_run"):
            calls.append(1)
            if len(calls) == 2:  # the first batch is written and counted
                first_batch.set()
                gate.wait(30)
        return original(**kwargs)

    monkeypatch.setattr(jobs.actions, "import_rows", held)
    workers: list[threading.Thread] = []

    def delay(job_id):
        def work():
            from django.db import connection

            tasks.run_import(job_id)
            connection.close()

        workers.append(threading.Thread(target=work))
        workers[-1].start()

    monkeypatch.setattr(tasks.run_import, "delay", delay)

    context = axe.context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")

    # Upload: from the contacts' list.
    page.goto(f"{live_server.url}/o/{org.slug}/contacts/")
    page.click(f"a[href='/o/{org.slug}/imports/']")
    file = tmp_path / "clients.csv"
    file.write_bytes(b"\xef\xbb\xbf" + CSV)
    page.select_option("#id_kind", "contact")
    page.set_input_files("#id_file", str(file))
    _shot(page, shots, "import-1-upload-fr", axe)
    page.click("button.primary")

    # Mapping: every heading found its place.
    page.wait_for_selector("text=Faire correspondre les colonnes de clients.csv")
    assert page.input_value("#id_c3") == "email"
    assert page.input_value("#id_c0") == "reference"
    _shot(page, shots, "import-2-mapping-fr", axe)
    page.click("button.primary")

    # Dry run: what would change, and the two refused rows with their line and column.
    page.wait_for_selector("text=Essai : ce que l\u2019import ferait")
    body = page.inner_text("main")
    assert "4 à créer" in body and "2 lignes refusées" in body
    assert "« 31/02/1985 » n\u2019est pas une date" in body
    assert "« Retraitée » ne fait pas partie des choix" in body
    with scopes_disabled():
        assert not Profile.objects.filter(organization=org).exists()
    _shot(page, shots, "import-3-dry-run-fr", axe)

    # The import, its progress bar moving as the worker goes.
    page.click("button:has-text('Lancer l')")
    assert first_batch.wait(30)
    page.wait_for_selector("text=2 lignes traitées sur 6", timeout=10000)
    assert page.is_visible("progress")
    _shot(page, shots, "import-4-progress-fr", axe)
    gate.set()
    for worker in workers:
        worker.join(30)
    # The page polls, then shows the results once the run is over.
    page.wait_for_selector("text=4 créés", timeout=15000)
    _shot(page, shots, "import-5-done-fr", axe)

    with scopes_disabled():
        zoe = Profile.objects.get(organization=org, external_reference="C1")
        assert {fv.field.label: fv.value for fv in FieldValue.objects.filter(profile=zoe)} == {
            "Date de naissance": "1990-01-31",
            "Revenu annuel": "42500.50",
            "Situation": "Indépendant",
        }
    page.goto(f"{live_server.url}/o/{org.slug}/profiles/{zoe.uuid}/")
    assert page.is_visible("text=31/01/1990")
    _shot(page, shots, "import-6-profile-fr", axe)
    page.goto(f"{live_server.url}/o/{org.slug}/profiles/{zoe.uuid}/history/")
    assert page.is_visible("text=importé depuis clients.csv")
    _shot(page, shots, "import-7-history-fr", axe)
    context.close()


def test_companies_are_matched_by_the_field_the_team_chooses(
    browser, axe, live_server, org, tmp_path
):
    org.default_language = "fr"
    org.save()
    make_member(org, "alice", "admin")
    siren = factories.field(org, "text", applies_to="company", label="Numéro SIREN")
    with scopes_disabled():
        known = Profile.objects.create(organization=org, kind="company", name="Initech")
        FieldValue.objects.create(organization=org, profile=known, field=siren, value="111")

    context = axe.context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page = context.new_page()
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw")
    page.click("button.primary")
    page.goto(f"{live_server.url}/o/{org.slug}/imports/")
    file = tmp_path / "societes.csv"
    file.write_bytes("Raison sociale;Numéro SIREN\r\nInitech SA;111\r\nNouvelle;222\r\n".encode())
    page.select_option("#id_kind", "company")
    page.set_input_files("#id_file", str(file))
    page.click("button.primary")

    page.wait_for_selector("text=Reconnaître les sociétés sans référence par")
    assert page.input_value("#id_match_field") == ""  # the registration number, unless chosen
    page.select_option("#id_c1", f"field:{siren.uuid}")
    page.select_option("#id_match_field", str(siren.uuid))
    axe.check(page, "import-company-match-fr")
    page.click("button.primary")
    page.wait_for_selector("text=Essai : ce que l\u2019import ferait")
    body = page.inner_text("main")
    assert "1 à créer" in body
    context.close()
