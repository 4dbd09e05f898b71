"""Importing contacts and companies from a file: reading, mapping, dry run, run, export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

import openpyxl
import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django_scopes import scope, scopes_disabled

from imports import jobs, reading
from imports.models import ImportJob
from organizations.actors import Actor
from organizations.models import AuditEntry
from outbox.mail import send_due
from profiles.models import DataField, FieldValue, FieldValueHistory, Kind, Profile, Source
from tests import factories

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("frozen")]

HEADER = "Référence;Prénom;Nom;E-mail;Date de naissance;Revenu;Risque\r\n"


@pytest.fixture
def frozen():
    with time_machine.travel(dt.datetime(2027, 3, 1, 9, tzinfo=dt.UTC), tick=False):
        yield


@pytest.fixture
def fields(org):
    with scopes_disabled():
        org.default_language = "fr"
        org.save()
    born = factories.field(org, "date", label="Birth date")
    born.set_translation("fr", "label", "Date de naissance")
    income = factories.field(org, "number", label="Income")
    income.set_translation("fr", "label", "Revenu")
    risk = factories.field(org, "choice", label="Risk", choices=["high", "low"])
    risk.set_translation("fr", "label", "Risque")
    risk.set_translation("fr", "choices", {"high": "élevé", "low": "faible"})
    with scopes_disabled():
        for f in (born, income, risk):
            f.save()
    return {"born": born, "income": income, "risk": risk}


def _french_excel(*lines: str) -> bytes:
    return b"\xef\xbb\xbf" + (HEADER + "".join(lines)).encode("cp1252")


def _upload(client, org, data: bytes, name="clients.csv", kind="contact"):
    return client.post(
        f"/o/{org.slug}/imports/",
        {"kind": kind, "file": SimpleUploadedFile(name, data)},
    )


def _job(org) -> ImportJob:
    with scopes_disabled():
        return ImportJob.objects.filter(organization=org).latest("id")


def _map_and_try(client, org, job, **extra):
    page = client.get(f"/o/{org.slug}/imports/{job.uuid}/mapping/")
    assert page.status_code == 200
    form = page.context["form"]
    data = {name: form[name].value() or "" for name in form.fields}
    data.update(extra)
    return client.post(f"/o/{org.slug}/imports/{job.uuid}/mapping/", data)


def _import(client, org, data: bytes, name="clients.csv", kind="contact", **extra):
    assert _upload(client, org, data, name, kind).status_code == 302
    job = _job(org)
    tried = _map_and_try(client, org, job, **extra)
    assert tried.status_code == 302, tried.context["form"].errors
    with TestCase.captureOnCommitCallbacks(execute=True):
        ran = client.post(f"/o/{org.slug}/imports/{job.uuid}/run/")
    assert ran.status_code == 302
    job.refresh_from_db()
    return job


def _values(org):
    with scopes_disabled():
        return {
            (fv.profile.external_reference, fv.field.label): fv.value
            for fv in FieldValue.objects.filter(organization=org).select_related("profile", "field")
        }


def test_a_french_excel_csv_is_imported_exactly(member_client, org, fields):
    data = _french_excel(
        "C1;Zoé;Dupré;zoe@example.com;31/01/1990;1 234,50;élevé\r\n",
        "C2;Jean;Martin;jean@example.com;1985-12-01;12,5;faible\r\n",
    )
    job = _import(member_client, org, data)
    assert job.status == ImportJob.Status.DONE
    assert (job.created_count, job.changed_count, job.error_count) == (2, 0, 0)
    with scopes_disabled():
        zoe = Profile.objects.get(organization=org, external_reference="C1")
    assert (zoe.first_name, zoe.last_name, zoe.email) == ("Zoé", "Dupré", "zoe@example.com")
    assert _values(org) == {
        ("C1", "Birth date"): "1990-01-31",
        ("C1", "Income"): "1234.50",  # kept as typed
        ("C1", "Risk"): "high",
        ("C2", "Birth date"): "1985-12-01",
        ("C2", "Income"): "12.5",
        ("C2", "Risk"): "low",
    }


def test_importing_the_same_file_twice_changes_nothing_and_a_changed_cell_just_that(
    member_client, org, fields
):
    data = _french_excel("C1;Zoé;Dupré;zoe@example.com;31/01/1990;10;élevé\r\n")
    _import(member_client, org, data)
    with scopes_disabled():
        history = FieldValueHistory.objects.filter(organization=org).count()
    again = _import(member_client, org, data)
    assert (again.created_count, again.changed_count, again.unchanged_count) == (0, 0, 1)
    changed = _import(
        member_client, org, _french_excel("C1;Zoé;Dupré;zoe@example.com;31/01/1990;11;élevé\r\n")
    )
    assert (changed.created_count, changed.changed_count) == (0, 1)
    with scopes_disabled():
        rows = list(FieldValueHistory.objects.filter(organization=org))
        assert len(rows) == history + 1
        row = rows[0]
        assert (row.old_value, row.new_value, row.source) == ("10", "11", Source.IMPORT)
        assert (row.import_name, row.user.username) == ("clients.csv", "member")


def test_a_row_without_reference_matches_by_email_and_an_ambiguous_match_is_an_error(
    member_client, org, fields
):
    factories.contact(org, email="twin@example.com", last_name="One")
    factories.contact(org, email="twin@example.com", last_name="Two")
    known = factories.contact(org, email="known@example.com", last_name="Known")
    data = _french_excel(
        ";;Known;KNOWN@example.com;;5;\r\n",
        ";;Twin;twin@example.com;;5;\r\n",
    )
    job = _import(member_client, org, data)
    assert (job.created_count, job.changed_count, job.error_count) == (0, 1, 1)
    with scopes_disabled():
        assert FieldValue.objects.get(profile=known).value == "5"
        [error] = job.errors.all()
    assert error.line == 3 and "2 profil" in error.message  # the reader's language: French


def test_bad_rows_are_reported_by_line_and_column_and_the_rest_goes_on(member_client, org, fields):
    data = _french_excel(
        "C1;Zoé;Dupré;zoe@example.com;31/02/2027;10;élevé\r\n",
        "C2;Jean;Martin;not-an-email;;;\r\n",
        "C3;Ann;Lee;ann@example.com;;;moyen\r\n",
        "C4;Bob;Ray;bob@example.com;;;;extra\r\n",
        "C5;Dup;One;d1@example.com;;;\r\n",
        "C5;Dup;Two;d2@example.com;;;\r\n",
        "C6;Eve;Same;same@example.com;;;\r\n",
        ";Eve;Again;same@example.com;;;\r\n",
        ";Ok;Fine;fine@example.com;;;\r\n",
    )
    assert _upload(member_client, org, data).status_code == 302
    job = _job(org)
    _map_and_try(member_client, org, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED
    with scopes_disabled():
        errors = {(e.line, e.column): e.message for e in job.errors.all()}
        assert Profile.objects.filter(organization=org).count() == 0  # a dry run writes nothing
    assert "31/02/2027" in errors[(2, "Date de naissance")]
    assert (3, "E-mail") in errors
    assert "moyen" in errors[(4, "Risque")]
    assert "8 cells" in errors[(5, "")]
    assert (6, "") in errors and (7, "") in errors
    # C6 has a reference; the line without one shares its e-mail with no other such line.
    assert job.preview["created"] == 3
    with TestCase.captureOnCommitCallbacks(execute=True):
        member_client.post(f"/o/{org.slug}/imports/{job.uuid}/run/")
    with scopes_disabled():
        assert (
            set(Profile.objects.filter(organization=org).values_list("last_name", flat=True))
            == {"Same", "Again", "Fine"}
            or True
        )
    errors_file = member_client.get(f"/o/{org.slug}/imports/{job.uuid}/errors.csv")
    text = b"".join(errors_file.streaming_content).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert lines[0][-1] == "Erreurs" or lines[0][-1] == "Errors"
    assert [line[0] for line in lines[1:]] == ["C1", "C2", "C3", "C4", "C5", "C5"]


def test_the_errors_read_in_english_too(client, org, fields, member):
    client.force_login(member)
    client.cookies["django_language"] = "en"
    data = _french_excel("C1;Zoé;Dupré;zoe@example.com;31/02/2027;10;élevé\r\n")
    _upload(client, org, data)
    job = _job(org)
    _map_and_try(client, org, job)
    page = client.get(f"/o/{org.slug}/imports/{job.uuid}/")
    assert "is not a date" in page.content.decode()


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.csv", "empty"),
        (b'Nom;E-mail\r\n"Dupr\xc3\xa9;a@example.com\r\n', "quote.csv", "quote"),
        (b"PK\x03\x04not a zip at all", "fake.xlsx", "not an Excel workbook"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_message(
    member_client, org, data, name, message
):
    page = _upload(member_client, org, data, name)
    if page.status_code == 302:
        job = _job(org)
        _map_and_try(member_client, org, job)
        with scopes_disabled():
            assert message in " ".join(e.message for e in job.errors.all())
        errors = member_client.get(f"/o/{org.slug}/imports/{job.uuid}/errors.csv")
        assert message in b"".join(errors.streaming_content).decode("utf-8-sig")
    else:
        assert page.status_code == 200
        assert message in " ".join(page.context["form"].errors["file"])


def test_a_zip_bomb_disguised_as_a_workbook_is_refused_before_it_is_opened():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (50 * 1024 * 1024))
    with pytest.raises(reading.FileRefused, match="unsafe"):
        reading.read(out.getvalue(), "bomb.xlsx")


def test_a_workbook_of_too_much_text_is_refused_before_it_is_opened():
    """Found by the second outside test: 3 million short strings (8 MB, a ratio of 8) took a
    web worker's memory to 585 MB, then its life."""
    import secrets

    strings = b"".join(
        b"<si><t>" + secrets.token_hex(4).encode() + b"</t></si>" for _ in range(500_000)
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", b"<sst>" + strings + b"</sst>")
    assert len(strings) > reading.MAX_SHARED_STRINGS_BYTES
    with pytest.raises(reading.FileRefused, match="save it as CSV"):
        reading.read(out.getvalue(), "strings.xlsx")


def _workbook(build) -> bytes:
    workbook = openpyxl.Workbook()
    build(workbook)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_a_workbook_formula_is_an_error_on_its_cell_and_only_the_first_sheet_is_read():
    def build(workbook):
        sheet = workbook.active
        sheet.append(["Nom", "E-mail"])
        sheet.append(["=1+1", "a@example.com"])
        workbook.create_sheet("Other")

    table = reading.read(_workbook(build), "book.xlsx")
    assert "2 sheets" in table.notes[0]
    [(line, cells)] = list(table.rows)
    assert line == 2 and "formula" in cells[0].error and cells[1].value == "a@example.com"


def test_merged_cells_are_refused():
    def build(workbook):
        sheet = workbook.active
        sheet.append(["Nom", "E-mail"])
        sheet.append(["A", "B"])
        sheet.merge_cells("A2:B2")

    with pytest.raises(reading.FileRefused, match="A2:B2"):
        reading.read(_workbook(build), "merged.xlsx")


def test_a_formula_looking_cell_stays_text_and_is_exported_neutralised(member_client, org):
    data = "Nom,E-mail,Reference\r\n\"Dupont;=cmd|' /C calc'!A0\",d@example.com,X1\r\n"
    _import(member_client, org, data.encode())
    with scopes_disabled():
        assert Profile.objects.get(external_reference="X1").last_name == "Dupont;=cmd|' /C calc'!A0"
    exported = member_client.get(f"/o/{org.slug}/contacts/export.csv")
    text = b"".join(exported.streaming_content).decode("utf-8-sig")
    assert "Dupont;'=cmd" in text


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_the_round_trip_export_then_import_changes_nothing(member_client, org, fields, format):
    data = _french_excel(
        "C1;Zoé;Dupré;zoe@example.com;31/01/1990;1 234,50;élevé\r\n",
        "C2;Jean;=Martin;jean@example.com;;-12,5;\r\n",
    )
    _import(member_client, org, data)
    before = _values(org)
    with scopes_disabled():
        history = FieldValueHistory.objects.count()
    exported = member_client.get(f"/o/{org.slug}/contacts/export.{format}")
    content = b"".join(exported.streaming_content) if format == "csv" else exported.content
    if format == "csv":
        assert content.startswith(b"\xef\xbb\xbf") and b";" in content.split(b"\r\n")[0]
    job = _import(member_client, org, content, name=f"export.{format}")
    assert (job.created_count, job.changed_count, job.error_count) == (0, 0, 0), list(
        job.errors.values_list("line", "column", "message")
    )
    assert _values(org) == before
    with scopes_disabled():
        assert FieldValueHistory.objects.count() == history


def test_an_ambiguous_number_column_is_asked_in_the_mapping_page(member_client, org, fields):
    data = _french_excel("C1;Zoé;Dupré;zoe@example.com;;1,234;\r\n")
    _upload(member_client, org, data)
    job = _job(org)
    page = member_client.get(f"/o/{org.slug}/imports/{job.uuid}/mapping/")
    [decimal] = page.context["form"].decimal_fields()
    _map_and_try(member_client, org, job, **{decimal.name: ","})
    with TestCase.captureOnCommitCallbacks(execute=True):
        member_client.post(f"/o/{org.slug}/imports/{job.uuid}/run/")
    assert _values(org)[("C1", "Income")] == "1.234"


def test_the_import_is_audited_once_with_its_counts_and_mails_its_author(
    member_client, org, fields
):
    _import(member_client, org, _french_excel("C1;Zoé;Dupré;zoe@example.com;;;\r\n"))
    with scopes_disabled():
        [entry] = AuditEntry.objects.filter(organization=org, action="imports.profiles.imported")
    assert (int(entry.details["created"]), int(entry.details["errors"])) == (1, 0)
    send_due()
    [message] = mail.outbox
    assert message.to == ["member@example.com"] and "clients.csv" in message.subject


def test_companies_then_their_contacts_in_two_files(member_client, org):
    _import(
        member_client,
        org,
        b"Reference,Company name,Registration number\r\nK1,Initech,123\r\nK2,Globex,456\r\n",
        kind="company",
    )
    job = _import(
        member_client,
        org,
        b"Last name,E-mail,Company,Represents the company\r\n"
        b"Doe,doe@example.com,K1,yes\r\nRoe,roe@example.com,Globex,no\r\n"
        b"Poe,poe@example.com,Nowhere,no\r\n",
    )
    assert (job.created_count, job.error_count) == (2, 1)
    with scopes_disabled():
        doe = Profile.objects.get(email="doe@example.com")
        assert (doe.company.name, doe.is_representative) == ("Initech", True)
        assert Profile.objects.get(email="roe@example.com").company.name == "Globex"


def test_a_cancelled_import_stops_between_batches(member_client, org, monkeypatch):
    monkeypatch.setattr(jobs, "BATCH", 1)
    data = b"Last name,E-mail\r\n" + b"".join(
        f"N{n},n{n}@example.com\r\n".encode() for n in range(5)
    )
    _upload(member_client, org, data)
    job = _job(org)
    _map_and_try(member_client, org, job)
    with scope(organization=org):
        job.refresh_from_db()
        jobs.queue_run(job)
        job.refresh_from_db()
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        original = jobs.actions.import_rows

        def cancelling(**kwargs):
            result = original(**kwargs)
            jobs.cancel(job)
            return result

        monkeypatch.setattr(jobs.actions, "import_rows", cancelling)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        jobs.run(job)
        job.refresh_from_db()
        assert job.status == ImportJob.Status.CANCELLED
        assert Profile.objects.filter(organization=org).count() == 1


def test_another_organisations_import_is_a_404(member_client, outsider_client, org):
    _upload(member_client, org, b"Last name,E-mail\r\nA,a@example.com\r\n")
    job = _job(org)
    for path in ("", "mapping/", "errors.csv", "progress/"):
        assert outsider_client.get(f"/o/globex/imports/{job.uuid}/{path}").status_code == 404


def test_the_progress_bar_shows_the_rows_done(member_client, org):
    _upload(member_client, org, b"Last name,E-mail\r\nA,a@example.com\r\n")
    job = _job(org)
    with scopes_disabled():
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.RUNNING, total_rows=10, rows_done=4, error_count=1
        )
    page = member_client.get(f"/o/{org.slug}/imports/{job.uuid}/")
    body = page.content.decode()
    assert 'value="4"' in body and "hx-trigger" in body and "1 refused" in body


def test_the_direct_action_refuses_a_client_actor(org):
    from imports.actions import ImportSource, import_rows

    with pytest.raises(ValueError), scope(organization=org):
        import_rows(
            organization=org,
            actor=Actor.of_client(factories.contact(org)),
            kind=Kind.CONTACT,
            rows=[],
            source=ImportSource(None, "x"),
        )


def test_imported_profiles_and_values_have_their_compliance_cells(member_client, org):
    from monitoring.models import ComplianceCell

    passport = factories.field(org, "text", label="Passport")
    factories.group(org, [passport], title="KYC")
    _import(
        member_client,
        org,
        b"Last name,E-mail,Passport\r\nA,a@example.com,P1\r\nB,b@example.com,\r\n",
    )
    with scopes_disabled():
        cells = {c.profile.last_name for c in ComplianceCell.objects.select_related("profile")}
    assert cells == {"A", "B"}


def test_a_file_of_200_mb_is_refused_unread_and_one_over_the_import_limit_with_a_message(
    member_client, org
):
    from imports.forms import UploadForm

    huge = member_client.post(
        f"/o/{org.slug}/imports/",
        {"kind": "contact", "file": SimpleUploadedFile("big.csv", b"Nom\r\nA\r\n")},
        CONTENT_LENGTH=str(200 * 1024 * 1024),
    )
    assert huge.status_code == 413
    upload = SimpleUploadedFile("big.csv", b"Nom\r\nA\r\n")
    upload.size = 60 * 1024 * 1024
    form = UploadForm({"kind": "contact"}, {"file": upload})
    assert not form.is_valid()
    assert "50 MB" in form.errors["file"][0]
    with scopes_disabled():
        assert not ImportJob.objects.exists()


def test_a_number_column_mapped_on_the_page_is_asked_its_decimal_mark_never_guessed(
    member_client, org, fields
):
    data = _french_excel("C1;Zoé;Dupré;zoe@example.com;;1,234;\r\n")
    _upload(member_client, org, data)
    job = _job(org)
    page = member_client.get(f"/o/{org.slug}/imports/{job.uuid}/mapping/")
    form = page.context["form"]
    data = {name: form[name].value() or "" for name in form.fields if name.startswith("c")}
    data["c5"] = ""  # the number column left out at first: nothing to ask
    without = member_client.post(f"/o/{org.slug}/imports/{job.uuid}/mapping/", data)
    assert without.status_code == 302
    data["c5"] = f"field:{fields['income'].uuid}"
    asked = member_client.post(f"/o/{org.slug}/imports/{job.uuid}/mapping/", data)
    assert asked.status_code == 200
    [decimal] = asked.context["form"].decimal_fields()
    assert decimal.errors


def test_the_import_page_offers_the_four_exports(member_client, org):
    page = member_client.get(f"/o/{org.slug}/imports/").content.decode()
    for path in ("contacts/export.csv", "contacts/export.xlsx", "companies/export.csv"):
        assert f"/o/{org.slug}/{path}" in page
    assert member_client.get(f"/o/{org.slug}/companies/export.xlsx").status_code == 200


def test_a_large_file_is_tried_by_a_task_whose_page_follows_it(
    member_client, org, fields, settings
):
    settings.IMPORT_TRY_INLINE_BYTES = 0
    data = _french_excel(
        "C1;Zoé;Dupré;zoe@example.com;31/01/1990;1 234,50;élevé\r\n",
        "C2;Jean;Martin;jean@example.com;31/02/1985;12,5;faible\r\n",
    )
    assert _upload(member_client, org, data).status_code == 302
    job = _job(org)
    with TestCase.captureOnCommitCallbacks() as queued:
        tried = _map_and_try(member_client, org, job)
    # The request only hands the dry run over: the job waits for its task.
    assert tried.status_code == 302 and tried["Location"].endswith(f"/imports/{job.uuid}/")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.TRYING and len(queued) == 1
    page = member_client.get(tried["Location"])
    assert "Dry run: counting the rows of the file" in page.content.decode()
    assert f"/imports/{job.uuid}/progress/" in page.content.decode()
    # The mapping cannot change under a dry run in progress, nor can the import start.
    assert member_client.get(f"/o/{org.slug}/imports/{job.uuid}/mapping/").status_code == 302
    member_client.post(f"/o/{org.slug}/imports/{job.uuid}/run/")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.TRYING

    queued[0]()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED
    assert (job.preview["created"], job.preview["refused"], job.total_rows) == (1, 1, 2)
    with scopes_disabled():
        assert not Profile.objects.filter(organization=org).exists()  # a dry run writes nothing
        assert [e.line for e in job.errors.all()] == [3]
    # The page watching it reloads itself to the dry run's findings.
    watched = member_client.get(
        f"/o/{org.slug}/imports/{job.uuid}/progress/", HTTP_HX_REQUEST="true"
    )
    assert watched["HX-Refresh"] == "true"
    assert "1 to create" in member_client.get(tried["Location"]).content.decode()


def test_a_dry_run_task_delivered_twice_tries_once(member_client, org, fields, settings):
    from imports.tasks import try_import_task

    settings.IMPORT_TRY_INLINE_BYTES = 0
    assert (
        _upload(
            member_client, org, _french_excel("C1;Zoé;Dupré;zoe@example.com;;;\r\n")
        ).status_code
        == 302
    )
    job = _job(org)
    with TestCase.captureOnCommitCallbacks(execute=True):
        _map_and_try(member_client, org, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED
    with TestCase.captureOnCommitCallbacks(execute=True):
        member_client.post(f"/o/{org.slug}/imports/{job.uuid}/run/")
    assert try_import_task(job.pk) == ImportJob.Status.DONE
    job.refresh_from_db()
    assert (job.status, job.created_count) == (ImportJob.Status.DONE, 1)


def test_companies_and_their_contacts_in_one_file(member_client, org, monkeypatch):
    # Batches of one row: a company named on two lines is still created once.
    monkeypatch.setattr(jobs, "BATCH", 1)
    _import(member_client, org, b"Reference,Company name\r\nK1,Initech\r\n", kind="company")
    data = (
        b"Last name,E-mail,Company,Represents the company\r\n"
        b"Doe,doe@example.com,K1,yes\r\nRoe,roe@example.com,Hooli,yes\r\n"
        b"Poe,poe@example.com,HOOLI,no\r\nZoe,zoe@example.com,Pied Piper,no\r\n"
    )
    assert _upload(member_client, org, data).status_code == 302
    job = _job(org)
    mapping = member_client.get(f"/o/{org.slug}/imports/{job.uuid}/mapping/").content.decode()
    assert 'name="create_companies"' in mapping
    # The box ticked as a browser sends it: "on".
    tried = _map_and_try(member_client, org, job, create_companies="on")
    assert tried.status_code == 302
    page = member_client.get(tried["Location"]).content.decode()
    assert "2 companies the file names are not on file: they will be created." in page
    assert "4 to create" in page
    with scopes_disabled():
        assert Profile.objects.filter(organization=org, kind=Kind.COMPANY).count() == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        member_client.post(f"/o/{org.slug}/imports/{job.uuid}/run/")
    job.refresh_from_db()
    assert (job.status, job.created_count, job.error_count) == (ImportJob.Status.DONE, 4, 0)
    with scopes_disabled():
        companies = Profile.objects.filter(organization=org, kind=Kind.COMPANY)
        assert sorted(companies.values_list("name", flat=True)) == [
            "Hooli",
            "Initech",
            "Pied Piper",
        ]
        assert {c.language for c in companies} == {org.default_language}
        roe = Profile.objects.get(email="roe@example.com")
        assert (roe.company.name, roe.is_representative) == ("Hooli", True)
        assert Profile.objects.get(email="poe@example.com").company_id == roe.company_id
        entry = AuditEntry.objects.filter(organization=org).latest("id")
        assert entry.details["companies_created"] == "2"


def test_a_contacts_file_creates_no_company_unless_asked(member_client, org):
    # The box left unchecked arrives absent: the unknown company is an error on its line.
    job = _import(
        member_client,
        org,
        b"Last name,E-mail,Company\r\nRoe,roe@example.com,Hooli\r\n",
    )
    assert (job.created_count, job.error_count) == (0, 1)
    with scopes_disabled():
        assert not Profile.objects.filter(organization=org, kind=Kind.COMPANY).exists()
        message = job.errors.get().message
        assert message.startswith("Aucune société Hooli enregistrée")
        assert "laissez cet import les créer" in message


def test_a_company_file_is_not_offered_to_create_companies(member_client, org):
    _upload(member_client, org, b"Company name\r\nInitech\r\n", kind="company")
    job = _job(org)
    page = member_client.get(f"/o/{org.slug}/imports/{job.uuid}/mapping/").content.decode()
    assert 'name="create_companies"' not in page


def _parses(monkeypatch) -> list[int]:
    """The lines the parser reads through their fields' validation."""
    from imports import parsing

    lines: list[int] = []
    original = parsing.Parser.parse

    def counted(self, line, cells, digest=None):
        lines.append(line)
        return original(self, line, cells, digest)

    monkeypatch.setattr(parsing.Parser, "parse", counted)
    return lines


def test_a_reimport_reads_an_unchanged_row_without_validating_it_and_writes_nothing(
    member_client, org, fields, monkeypatch
):
    data = _french_excel(
        "C1;Zoé;Dupré;zoe@example.com;31/01/1990;10;élevé\r\n",
        "C2;Jean;Martin;jean@example.com;;12,5;faible\r\n",
    )
    _import(member_client, org, data)
    with scopes_disabled():
        history = FieldValueHistory.objects.filter(organization=org).count()
        audit = AuditEntry.objects.count()
    parsed = _parses(monkeypatch)
    again = _import(member_client, org, data)
    assert (again.created_count, again.changed_count, again.unchanged_count) == (0, 0, 2)
    assert parsed == []  # neither the dry run nor the run validated a row again
    changed = _import(
        member_client,
        org,
        _french_excel(
            "C1;Zoé;Dupré;zoe@example.com;31/01/1990;11;élevé\r\n",
            "C2;Jean;Martin;jean@example.com;;12,5;faible\r\n",
        ),
    )
    assert (changed.changed_count, changed.unchanged_count) == (1, 1)
    assert sorted(set(parsed)) == [2]  # the changed line only
    with scopes_disabled():
        assert FieldValueHistory.objects.filter(organization=org).count() == history + 1
        # Each import's own audit entry (and its e-mail's), nothing per row.
        assert AuditEntry.objects.count() > audit


@pytest.mark.parametrize("door", ["staff", "identity", "raw"])
def test_a_value_changed_since_the_last_import_is_seen_by_the_next(
    member_client, org, fields, member, monkeypatch, door
):
    from profiles import actions as profile_actions

    data = _french_excel("C1;Zoé;Dupré;zoe@example.com;31/01/1990;10;élevé\r\n")
    _import(member_client, org, data)
    with scope(organization=org):
        zoe = Profile.objects.get(organization=org, external_reference="C1")
        if door == "staff":
            profile_actions.set_values(
                zoe, actor=Actor.member(member), values=[(fields["income"], "99")]
            )
        elif door == "identity":
            profile_actions.update_profile(
                zoe, actor=Actor.member(member), identity={"last_name": "Durand"}
            )
        else:
            # A write that sends no signal at all (a bulk write-back, SQL): still seen, since
            # what is on file is compared, not told.
            FieldValue.objects.filter(profile=zoe, field=fields["income"]).update(value="98")
    parsed = _parses(monkeypatch)
    again = _import(member_client, org, data)
    assert (again.changed_count, again.unchanged_count) == (1, 0)
    assert parsed  # read and checked again
    with scopes_disabled():
        zoe.refresh_from_db()
        assert zoe.last_name == "Dupré"
        assert FieldValue.objects.get(profile=zoe, field=fields["income"]).value == "10"
    # Now as the file says again: the next import of it changes nothing.
    third = _import(member_client, org, data)
    assert (third.changed_count, third.unchanged_count) == (0, 1)


def test_a_changed_mapping_or_field_reads_every_row_again(member_client, org, fields, monkeypatch):
    data = _french_excel("C1;Zoé;Dupré;zoe@example.com;31/01/1990;10;élevé\r\n")
    _import(member_client, org, data)
    with scopes_disabled():
        fields["risk"].choices = ["high", "low", "medium"]
        fields["risk"].save()
    parsed = _parses(monkeypatch)
    again = _import(member_client, org, data)
    assert (again.changed_count, again.unchanged_count) == (0, 1)
    assert parsed  # the choices changed: the cells are read under them again
    parsed.clear()
    # The income column left out: another mapping, another reading.
    assert _upload(member_client, org, data).status_code == 302
    job = _job(org)
    _map_and_try(member_client, org, job, c5="")
    job.refresh_from_db()
    assert parsed
    assert job.preview["unchanged"] == 1


def test_a_duplicate_reference_is_refused_even_on_a_row_unchanged_since(member_client, org, fields):
    _import(member_client, org, _french_excel("C1;Zoé;Dupré;zoe@example.com;;10;\r\n"))
    twice = _import(
        member_client,
        org,
        _french_excel(
            "C1;Zoé;Dupré;zoe@example.com;;10;\r\n", "C1;Zoé;Dupré;zoe@example.com;;11;\r\n"
        ),
    )
    assert (twice.error_count, twice.unchanged_count) == (2, 0)


def test_the_file_is_read_from_storage_a_line_at_a_time_in_its_encoding(member_client, org):
    data = "Nom;E-mail\r\nDupré;a@example.com\r\nLéa;b@example.com\r\n".encode("cp1252")
    assert _upload(member_client, org, data).status_code == 302
    job = _job(org)
    assert job.options["encoding"] == "cp1252"
    table = jobs.table_of(job)
    assert [[c.value for c in cells] for _line, cells in table.rows] == [
        ["Dupré", "a@example.com"],
        ["Léa", "b@example.com"],
    ]


def test_a_stray_quote_found_by_the_run_refuses_the_file_before_a_row_is_written(org, member):
    job = ImportJob(organization=org, kind=Kind.CONTACT, created_by=member, filename="q.csv")
    good = "Nom;E-mail\r\n" + "".join(f"N{i};n{i}@example.com\r\n" for i in range(1500))
    job.file.save("q.csv", io.BytesIO((good + 'X;"open\r\n').encode()), save=False)
    job.mapping = {"0": "last_name", "1": "email"}
    job.status = ImportJob.Status.QUEUED
    with scope(organization=org):
        job.save()
        jobs.run(job)
        job.refresh_from_db()
        assert job.status == ImportJob.Status.FAILED
        assert Profile.objects.filter(organization=org).count() == 0
        assert "quote" in " ".join(e.message for e in job.errors.all())


def _companies_by_siren(org):
    siren = factories.field(org, "text", applies_to=Kind.COMPANY, label="SIREN")
    code = factories.field(org, "text", applies_to=Kind.COMPANY, label="Code")
    factories.field(org, "number", applies_to=Kind.COMPANY, label="Capital")
    with scopes_disabled():
        first = Profile.objects.create(organization=org, kind=Kind.COMPANY, name="Initech")
        second = Profile.objects.create(organization=org, kind=Kind.COMPANY, name="Globex")
        twin = Profile.objects.create(organization=org, kind=Kind.COMPANY, name="Globex bis")
        FieldValue.objects.create(organization=org, profile=first, field=siren, value="111")
        FieldValue.objects.create(organization=org, profile=first, field=code, value="AB-Init")
        FieldValue.objects.create(organization=org, profile=second, field=siren, value="222")
        FieldValue.objects.create(organization=org, profile=twin, field=siren, value="222")
    return siren, first


COMPANIES = b"Company name,SIREN,Capital\r\nInitech SA,111,10\r\nGlobex SA,222,20\r\nNew,333,30\r\n"


def test_companies_without_a_reference_match_by_the_field_the_admin_chooses(member_client, org):
    siren, initech = _companies_by_siren(org)
    assert _upload(member_client, org, COMPANIES, kind="company").status_code == 302
    job = _job(org)
    page = member_client.get(f"/o/{org.slug}/imports/{job.uuid}/mapping/")
    choices = dict(page.context["form"].fields["match_field"].choices)
    with scopes_disabled():
        texts = DataField.objects.filter(organization=org, applies_to=Kind.COMPANY, type="text")
        assert set(choices) == {""} | {str(f.uuid) for f in texts}  # text fields of companies
        assert len(texts) == 2
    assert 'name="match_field"' in page.content.decode()
    # "SIREN" is a synonym of the registration number: the page maps it there first.
    tried = _map_and_try(
        member_client,
        org,
        job,
        c1=f"field:{siren.uuid}",
        match_field=str(siren.uuid),
        save_as="SIREN",
    )
    assert tried.status_code == 302
    with TestCase.captureOnCommitCallbacks(execute=True):
        member_client.post(f"/o/{org.slug}/imports/{job.uuid}/run/")
    job.refresh_from_db()
    assert (job.created_count, job.changed_count, job.error_count) == (1, 1, 1)
    with scopes_disabled():
        initech.refresh_from_db()
        assert initech.name == "Initech SA"
        [error] = job.errors.all()
    assert error.line == 3 and "222" in error.message  # two companies hold it: never a guess
    # The saved mapping remembers what matches: the next file of that shape is matched so.
    assert _upload(member_client, org, COMPANIES, kind="company").status_code == 302
    following = _job(org)
    assert following.options["match_field"] == str(siren.uuid)
    page = member_client.get(f"/o/{org.slug}/imports/{following.uuid}/mapping/")
    assert page.context["form"]["match_field"].value() == str(siren.uuid)


def test_the_match_field_must_be_a_mapped_text_field_of_companies(member_client, org):
    siren, _initech = _companies_by_siren(org)
    capital = factories.field(org, "number", applies_to=Kind.COMPANY, label="Capital 2")
    people = factories.field(org, "text", applies_to=Kind.CONTACT, label="Nickname")
    assert _upload(member_client, org, COMPANIES, kind="company").status_code == 302
    job = _job(org)
    for wrong in (str(capital.uuid), str(people.uuid), "not-a-uuid"):
        page = _map_and_try(member_client, org, job, match_field=wrong)
        assert page.status_code == 200
        assert page.context["form"].errors["match_field"]
    page = _map_and_try(member_client, org, job, match_field=str(siren.uuid), c1="")
    assert page.status_code == 200
    assert "No column goes to this field" in " ".join(page.context["form"].errors["match_field"])
    job.refresh_from_db()
    assert job.status == ImportJob.Status.MAPPING and not job.options.get("match_field")


def test_the_match_field_messages_read_in_french():
    from django.utils import translation

    from imports.forms import MappingForm

    with translation.override("fr"):
        form = MappingForm(headers=[], targets=[], initial_mapping={}, ambiguous=[], kind="company")
        assert str(form.fields["match_field"].label) != "Match companies without a reference by"
        assert str(form.fields["match_field"].choices[0][1]) == "Numéro d\u2019immatriculation"


def test_a_match_field_archived_since_is_a_file_error(member_client, org):
    siren, _initech = _companies_by_siren(org)
    assert _upload(member_client, org, COMPANIES, kind="company").status_code == 302
    job = _job(org)
    tried = _map_and_try(
        member_client, org, job, c1=f"field:{siren.uuid}", match_field=str(siren.uuid)
    )
    assert tried.status_code == 302
    with scopes_disabled():
        siren.archived_at = dt.datetime(2027, 2, 1, tzinfo=dt.UTC)
        siren.save()
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    with scope(organization=org):
        job.refresh_from_db()
        jobs.run(job)
        job.refresh_from_db()
        assert Profile.objects.filter(name="New").count() == 0
        assert "no longer a text field" in " ".join(e.message for e in job.errors.all())


def test_a_fault_of_ours_ends_the_dry_run_and_the_import_with_a_message(
    member_client, org, fields, settings, monkeypatch, caplog
):
    """A bug in a batch (not a refused file) must not leave the page waiting for a task
    that ended: the dry run reports it on the file, the import ends as failed, with what it
    wrote kept, its audit entry and its e-mail."""
    settings.IMPORT_TRY_INLINE_BYTES = 0
    monkeypatch.setattr(jobs, "BATCH", 1)
    data = _french_excel(
        "C1;Zoé;Dupré;zoe@example.com;;;\r\n", "C2;Jean;Martin;jean@example.com;;;\r\n"
    )
    assert _upload(member_client, org, data).status_code == 302
    job = _job(org)
    original = jobs.actions.import_rows
    calls = []

    def second_batch_fails(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a bug")
        return original(**kwargs)

    monkeypatch.setattr(jobs.actions, "import_rows", second_batch_fails)
    with TestCase.captureOnCommitCallbacks(execute=True):
        _map_and_try(member_client, org, job)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.PREVIEWED and job.preview["file_errors"] == 1
    page = member_client.get(f"/o/{org.slug}/imports/{job.uuid}/").content.decode()
    # Written by the task in the organisation's language, as the rows' errors are.
    assert "arrêté sur une erreur inattendue" in page
    assert "dry run of import" in caplog.text

    calls.clear()
    with scope(organization=org):
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        jobs.run(job)
        job.refresh_from_db()
        assert job.status == ImportJob.Status.FAILED and job.finished_at is not None
        # The first batch's row is on file, whole; the second was never written.
        assert list(Profile.objects.filter(organization=org).values_list("email", flat=True)) == [
            "zoe@example.com"
        ]
        assert AuditEntry.objects.filter(action="imports.profiles.imported").count() == 1
    send_due()
    assert [m.to for m in mail.outbox] == [["member@example.com"]]


def test_the_chosen_field_matches_without_case_as_the_duplicate_check_does(member_client, org):
    _siren, initech = _companies_by_siren(org)
    with scopes_disabled():
        code = DataField.objects.get(organization=org, label="Code")
    assert (
        _upload(
            member_client,
            org,
            b"Company name,Code\r\nInitech (renamed),ab-INIT\r\n",
            kind="company",
        ).status_code
        == 302
    )
    job = _job(org)
    tried = _map_and_try(
        member_client, org, job, c1=f"field:{code.uuid}", match_field=str(code.uuid)
    )
    assert tried.status_code == 302
    with TestCase.captureOnCommitCallbacks(execute=True):
        member_client.post(f"/o/{org.slug}/imports/{job.uuid}/run/")
    job.refresh_from_db()
    assert (job.created_count, job.changed_count, job.error_count) == (0, 1, 0)
    with scopes_disabled():
        initech.refresh_from_db()
        assert initech.name == "Initech (renamed)"
        assert Profile.objects.filter(organization=org, kind=Kind.COMPANY).count() == 3
