"""Section 8, the import of contacts from a CSV file, beside `COPY` and the naive loop."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
from functools import partial
from typing import Any

from bench.common import analyze, measured, peak_memory, truncate

N_FIELDS = 10
# Four texts, two numbers, two dates, a choice and a yes/no: each type's own validation.
TYPES = ["text", "text", "text", "text", "number", "number", "date", "date", "choice", "boolean"]


def build_org() -> tuple[Any, Any, list[Any]]:
    from django.contrib.auth import get_user_model

    from organizations.models import Membership, Organization
    from profiles.models import DataField, Kind

    truncate("profiles_profile", "organizations_organization", "auth_user")
    org = Organization.objects.create(
        name="Import", slug="import", default_language="fr", date_style="dmy"
    )
    user = get_user_model().objects.create_user("importer", email="importer@example.com")
    Membership.objects.create(organization=org, user=user, role="admin")
    fields = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Champ {i}",
            type=kind,
            position=i,
            choices=["bas", "moyen", "haut"] if kind == "choice" else [],
        )
        for i, kind in enumerate(TYPES)
    )
    return org, user, fields


def _cells(i: int, version: int) -> list[str]:
    day = dt.date(2020, 1, 1) + dt.timedelta(days=i % 3000)
    return [
        f"Texte {i}-{version}",
        f"Adresse {i}",
        f"Ville {i % 100}",
        f"Note {i % 7}",
        f"{i % 10000} {i % 1000:03d},{i % 100:02d}",
        f"{i % 97},5",
        day.strftime("%d/%m/%Y"),
        (day + dt.timedelta(days=365)).strftime("%d/%m/%Y"),
        ("bas", "moyen", "haut")[i % 3],
        ("oui", "non")[i % 2],
    ]


def csv_file(n: int, changed_every: int = 0) -> bytes:
    """n contacts, French Excel's way: `;`, dates dd/mm/yyyy, decimal commas. With
    `changed_every`, one row in that many has its first field changed."""
    out = io.StringIO()
    out.write(";".join(["Référence", "Nom", "E-mail", *(f"Champ {i}" for i in range(N_FIELDS))]))
    out.write("\r\n")
    for i in range(n):
        version = 1 if changed_every and i % changed_every == 0 else 0
        out.write(";".join([f"R{i}", f"Nom {i}", f"p{i}@example.org", *_cells(i, version)]))
        out.write("\r\n")
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def import_file(org: Any, user: Any, data: bytes, name: str) -> Any:
    """The import as a person runs it: upload, the mapping as guessed, then the run (the
    task's body, in this process)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django_scopes import scope

    from imports import jobs
    from imports.models import ImportJob

    with scope(organization=org):
        job = jobs.open_upload(
            organization=org, user=user, kind="contact", upload=SimpleUploadedFile(name, data)
        )
        numbers = {n: "," for n, key in job.mapping.items() if int(n) in (7, 8)}
        jobs.set_mapping(job, columns={int(n): k for n, k in job.mapping.items()}, decimals=numbers)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        job.refresh_from_db()
        return jobs.run(job)


def naive_loop(org: Any, user: Any, n: int, start_at: int = 0) -> float:
    """One action call per row: `create_profile` then `set_values`, each value through its
    form field, for rows `start_at` … `start_at + n`; returns the seconds."""
    from django_scopes import scope

    from organizations.actors import Actor
    from profiles import actions, fieldtypes
    from profiles.models import DataField, Kind

    actor = Actor.member(user)
    with scope(organization=org):
        fields = list(DataField.objects.filter(organization=org).order_by("position"))
        start = time.perf_counter()
        for i in range(start_at, start_at + n):
            profile = actions.create_profile(
                organization=org,
                actor=actor,
                kind=Kind.CONTACT,
                identity={"last_name": f"Naive {i}", "email": f"n{i}@example.org"},
            )
            values = []
            for field, text in zip(fields, _cells(i, 0), strict=True):
                form_field = fieldtypes.form_field(field, required=False)
                raw: Any = text
                if field.type == "number":
                    raw = text.replace(" ", "").replace(",", ".")
                elif field.type == "date":
                    raw = dt.datetime.strptime(text, "%d/%m/%Y").date()
                elif field.type == "boolean":
                    raw = "true" if text == "oui" else "false"
                values.append((field, fieldtypes.to_canonical(field, form_field.clean(raw))))
            actions.set_values(profile, actor=actor, values=values)
        return time.perf_counter() - start


def copy_floor(org: Any, user: Any, fields: list[Any], n: int) -> float:
    """The same rows (profiles, values, history) written with `COPY … FROM STDIN`, values
    already canonical: the database's floor. Returns the seconds."""
    from django.db import connection, transaction

    from profiles.models import FieldValue, FieldValueHistory, Profile

    truncate("profiles_profile")
    now = dt.datetime.now(dt.UTC)
    canonical = [
        lambda i: f"Texte {i}-0",
        lambda i: f"Adresse {i}",
        lambda i: f"Ville {i % 100}",
        lambda i: f"Note {i % 7}",
        lambda i: f"{i % 10000}{i % 1000:03d}.{i % 100:02d}",
        lambda i: f"{i % 97}.5",
        lambda i: (dt.date(2020, 1, 1) + dt.timedelta(days=i % 3000)).isoformat(),
        lambda i: (dt.date(2021, 1, 1) + dt.timedelta(days=i % 3000)).isoformat(),
        lambda i: ("bas", "moyen", "haut")[i % 3],
        lambda i: i % 2 == 0,
    ]
    import_uuid = uuid.uuid4()
    start = time.perf_counter()
    with transaction.atomic():
        connection.ensure_connection()
        raw = connection.connection
        p = Profile._meta.db_table
        columns = (
            "uuid, organization_id, kind, first_name, last_name, email, phone, language,"
            " is_representative, name, registration_number, address, external_reference,"
            " created_at, updated_at"
        )
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {p} ({columns}) FROM STDIN") as copy:
                for i in range(n):
                    copy.write_row(
                        (
                            uuid.uuid4(),
                            org.pk,
                            "contact",
                            "",
                            f"Nom {i}",
                            f"p{i}@example.org",
                            "",
                            "fr",
                            False,
                            "",
                            "",
                            "",
                            f"R{i}",
                            now,
                            now,
                        )
                    )
            cursor.execute(
                f"SELECT id, external_reference FROM {p} WHERE organization_id = %s",
                [org.pk],
            )
            ids = {reference: pk for pk, reference in cursor.fetchall()}
            v, h = FieldValue._meta.db_table, FieldValueHistory._meta.db_table
            with cursor.copy(
                f"COPY {v} (organization_id, profile_id, field_id, value, updated_at) FROM STDIN"
            ) as copy:
                for i in range(n):
                    for field, value in zip(fields, canonical, strict=True):
                        copy.write_row((org.pk, ids[f"R{i}"], field.pk, json.dumps(value(i)), now))
            with cursor.copy(
                f"COPY {h} (organization_id, profile_id, field_id, new_value, kind, source,"
                " user_id, on_behalf, changed_at, import_uuid, import_name) FROM STDIN"
            ) as copy:
                for i in range(n):
                    for field, value in zip(fields, canonical, strict=True):
                        copy.write_row(
                            (
                                org.pk,
                                ids[f"R{i}"],
                                field.pk,
                                json.dumps(value(i)),
                                "change",
                                "import",
                                user.pk,
                                False,
                                now,
                                import_uuid,
                                "contacts.csv",
                            )
                        )
    return time.perf_counter() - start


def bench_import(sizes: list[int], naive_n: int) -> list[dict[str, Any]]:
    from django.db import connection

    from profiles.models import FieldValue

    rows = []
    for n in sizes:
        org, user, fields = build_org()
        floor_seconds = copy_floor(org, user, fields, n)
        # The naive loop: the same sample at every size, on the same state (no profile on
        # file), timed in two halves, one before the import and one after it, so that the
        # machine's load while the import runs weighs on both.
        truncate("profiles_profile")
        analyze()
        half = naive_n // 2
        naive_first = naive_loop(org, user, half)
        truncate("profiles_profile")
        analyze()
        data = csv_file(n)
        with measured() as ours:
            job = import_file(org, user, data, "contacts.csv")
        assert (job.created_count, job.error_count) == (n, 0), (job.created_count, job.error_count)
        assert FieldValue.objects.filter(organization=org).count() == n * N_FIELDS
        analyze()
        changed = csv_file(n, changed_every=100)
        with measured() as again:
            second = import_file(org, user, changed, "contacts.csv")
        assert second.changed_count == len(range(0, n, 100)), second.changed_count
        truncate("profiles_profile")
        memory = peak_memory(partial(import_file, org, user, data, "m.csv"))
        truncate("profiles_profile")
        analyze()
        naive_second = naive_loop(org, user, naive_n - half, start_at=half)
        naive_rate = naive_n / (naive_first + naive_second)
        rows.append(
            {
                "n": n,
                "fields": N_FIELDS,
                "ours_seconds": ours["seconds"],
                "ours_rate": n / ours["seconds"],
                "ours_queries": ours["queries"],
                "ours_memory": memory,
                "again_seconds": again["seconds"],
                "floor_seconds": floor_seconds,
                "floor_rate": n / floor_seconds,
                "naive_rate": naive_rate,
                "naive_sample": naive_n,
                "naive_halves": [half / naive_first, (naive_n - half) / naive_second],
                "vendor": connection.vendor,
            }
        )
        print(f"import {n}: {rows[-1]['ours_rate']:,.0f} rows/s", flush=True)
    return rows


def import_ratios(rows: list[dict]) -> dict[str, float]:
    return {
        "floor": min(row["ours_rate"] / row["floor_rate"] for row in rows),
        "naive": min(row["ours_rate"] / row["naive_rate"] for row in rows),
        "again": max(row["again_seconds"] / row["ours_seconds"] for row in rows),
        "growth": rows[-1]["ours_memory"] - rows[0]["ours_memory"],
    }


def _halves(row: dict) -> str:
    halves = row.get("naive_halves")
    return f" ({halves[0]:,.1f}, {halves[1]:,.1f})" if halves else ""


def render_import(rows: list[dict]) -> list[str]:
    lines = [
        "## 8. The import of contacts from a CSV file",
        "",
        f"Contacts by {rows[0]['fields']} data fields (texts, numbers with a decimal comma, dates"
        " dd/mm/yyyy, a choice, a yes/no) in a French Excel CSV. Ours is the import as a person"
        " runs it: `imports.jobs.open_upload`, the guessed mapping, then `imports.jobs.run`"
        " (the task's body) — the file read a line at a time from storage, each cell through"
        " its field's form field, `imports.actions.import_rows` writing 1,000 rows a"
        " transaction (`bulk_create` of the profiles, `COPY` of their values, history rows"
        " and row digests, and `values_imported` sent once a batch). The re-import is the"
        " same file with one row in a hundred changed: a row whose cells are those the last"
        " import of its profile read, and whose profile still holds what that import left,"
        " is counted unchanged without its cells' validation (`imports.digests`). The floor"
        " writes the same rows, values already canonical, with `COPY … FROM STDIN` through"
        " psycopg. The naive loop calls `profiles.actions.create_profile` and"
        " `profiles.actions.set_values` per row, on a sample of"
        f" {rows[0]['naive_sample']:,} rows at every size, into an empty table, timed half"
        " before the import and half after it (its two halves' rates are given in"
        " brackets).",
        "",
        "| contacts | ours (rows/s) | floor (rows/s) | ours ÷ floor (target ≥ 0.25) |"
        " naive (rows/s) | ours ÷ naive (target ≥ 20) | re-import 1 % changed ÷ first"
        " (target < 0.33) | queries (ours) | peak memory (ours) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['n']:,} | {row['ours_rate']:,.0f} | {row['floor_rate']:,.0f} |"
            f" {row['ours_rate'] / row['floor_rate']:.2f} | {row['naive_rate']:,.1f}"
            f"{_halves(row)} |"
            f" {row['ours_rate'] / row['naive_rate']:.1f} |"
            f" {row['again_seconds'] / row['ours_seconds']:.2f} | {row['ours_queries']:,} |"
            f" {row['ours_memory']:.1f} MB |"
        )
    lines += [
        "",
        f"Peak memory moves by {rows[-1]['ours_memory'] - rows[0]['ours_memory']:.1f} MB"
        f" from {rows[0]['n']:,} to {rows[-1]['n']:,} contacts.",
        "",
    ]
    return lines
