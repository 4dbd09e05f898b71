"""Section 6, the compliance overview's CSV export, beside `COPY`."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from bench.common import analyze, measured, peak_memory, truncate


def build_overview(n: int, n_fields: int) -> tuple[Any, Any]:
    """n contacts by n_fields monitored fields, a third of one field's values expired."""
    from django.contrib.auth import get_user_model

    from monitoring.models import GroupField, UpdateGroup
    from organizations.models import Membership, Organization
    from profiles.models import DataField, FieldValue, Kind, Profile

    truncate("profiles_profile", "organizations_organization", "auth_user")
    org = Organization.objects.create(name="Export", slug="export")
    user = get_user_model().objects.create_user("exporter")
    Membership.objects.create(organization=org, user=user, role="admin")
    group = UpdateGroup(
        organization=org,
        title="KYC",
        applies_to=Kind.CONTACT,
        start_date=dt.date(2024, 1, 31),
        interval_count=12,
        interval_unit="months",
    )
    group.schedule_from()
    group.save()
    fields = DataField.objects.bulk_create(
        DataField(
            organization=org,
            applies_to=Kind.CONTACT,
            label=f"Monitored {i}",
            type="text",
            position=i,
        )
        for i in range(n_fields)
    )
    GroupField.objects.bulk_create(
        GroupField(field=f, group=group, organization=org, applies_to=Kind.CONTACT) for f in fields
    )
    today = dt.date.today()
    for start in range(0, n, 5000):
        profiles = Profile.objects.bulk_create(
            Profile(organization=org, kind=Kind.CONTACT, last_name=f"P{i}", email=f"p{i}@x.org")
            for i in range(start, min(n, start + 5000))
        )
        FieldValue.objects.bulk_create(
            FieldValue(
                organization=org,
                profile=p,
                field=fields[0],
                value="checked",
                expires_on=today + dt.timedelta(days=(-10, 10, 400)[p.pk % 3]),
            )
            for p in profiles
        )
    from monitoring import overview

    # Rows written past the product's paths: the overview's cells are computed once, as the
    # migration that introduced them does.
    analyze()
    start = time.perf_counter()
    overview.refresh(org.pk)
    print(f"overview cells of {n} profiles: {time.perf_counter() - start:.1f} s", flush=True)
    analyze()
    return org, user


def export_csv(client: Any, org: Any) -> int:
    """The overview's CSV as a browser gets it, read to the end; returns its data rows."""
    response = client.get(f"/o/{org.slug}/monitoring/overview.csv")
    assert response.status_code == 200 and response.streaming
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    return lines - 1


def copy_floor(org: Any) -> int:
    """COPY of the same rows (the overview's own SELECT) to STDOUT: the database's floor."""
    import psycopg
    from django.db import connection

    from monitoring import overview

    sql, params = overview._filtered(org.pk, overview.Filters(), dt.date.today())
    columns = ", ".join(f"c.{name}" for name in overview.EXPORT_COLUMNS)
    query = f"SELECT {columns} FROM ({sql}) c {overview.ORDER}"
    connection.ensure_connection()
    raw = connection.connection
    inline = psycopg.ClientCursor(raw).mogrify(query, params)
    rows = 0
    with raw.cursor() as cursor, cursor.copy(f"COPY ({inline}) TO STDOUT (FORMAT csv)") as copy:
        for block in copy:
            rows += bytes(block).count(b"\n")
    return rows


def bench_export(sizes: list[int], n_fields: int) -> list[dict[str, Any]]:
    from django.test import Client

    rows = []
    for n in sizes:
        org, user = build_overview(n, n_fields)
        client = Client()
        client.force_login(user)
        export_csv(client, org)  # unmeasured: the first call loads what the view imports
        with measured() as ours:
            cells = export_csv(client, org)
        assert cells == n * n_fields, (cells, n * n_fields)
        memory = peak_memory(lambda client=client, org=org: export_csv(client, org))
        start = time.perf_counter()
        copied = copy_floor(org)
        floor_seconds = time.perf_counter() - start
        assert copied == cells, (copied, cells)
        rows.append(
            {
                "profiles": n,
                "fields": n_fields,
                "cells": cells,
                "ours_rate": cells / ours["seconds"],
                "ours_queries": ours["queries"],
                "ours_memory": memory,
                "floor_rate": cells / floor_seconds,
            }
        )
        print(f"export {cells}: {rows[-1]['ours_rate']:,.0f} rows/s", flush=True)
    return rows


def render_export(export: list[dict]) -> list[str]:
    lines = [
        "## 6. The compliance overview's CSV export",
        "",
        "Profiles by monitored fields, one CSV row per cell, each cell's status read from the"
        " overview's maintained table (`monitoring.models.ComplianceCell`, one row per"
        " profile and monitored field) with the clock applied in SQL. Ours is"
        " `monitoring.views.compliance_export` read to its end through Django's test client"
        " (the whole view: session, membership, audit, and on PostgreSQL the lines written by"
        " the database, `monitoring.overview.export_csv`: `COPY (SELECT …) TO STDOUT` of the"
        " overview's SELECT with each code looked up in the reader's words and the text"
        " neutralised in SQL, gathered in chunks of 64 KB; the count of queries leaves out"
        " the `COPY`, which psycopg runs outside Django's cursor)."
        " The floor is `COPY (SELECT …) TO STDOUT` of the overview's SELECT alone, its"
        " columns as stored, read by psycopg.",
        "",
        "| profiles | fields | rows | ours (rows/s) | floor (rows/s) | ours ÷ floor"
        " (target ≥ 0.25) | queries (ours) | peak memory (ours) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in export:
        lines.append(
            f"| {row['profiles']:,} | {row['fields']} | {row['cells']:,} |"
            f" {row['ours_rate']:,.0f} | {row['floor_rate']:,.0f} |"
            f" {row['ours_rate'] / row['floor_rate']:.2f} | {row['ours_queries']:,} |"
            f" {row['ours_memory']:.1f} MB |"
        )
    lines += [
        "",
        f"Peak memory moves by {export[-1]['ours_memory'] - export[0]['ours_memory']:.1f} MB"
        f" from {export[0]['cells']:,} to {export[-1]['cells']:,} rows.",
        "",
    ]
    return lines
