"""A small run of the benchmark keeps it from rotting; its figures are not asserted."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection

from tests.conftest import need_service

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.services
def test_a_small_benchmark_runs(tmp_path):
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    need_service(shutil.which("wrk") is not None, "wrk")
    import psycopg

    db = connection.settings_dict
    # A database of its own (BENCH_DATABASE_URL's, as `make bench` reads it, if set): the
    # benchmark drops and rebuilds its schema.
    bench_url = os.environ.get("BENCH_DATABASE_URL", "")
    name = urlsplit(bench_url).path.lstrip("/") or "backoffice_bench_smoke"
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}",
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--small", "--no-write"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # Each section's table is printed as the section ends.
    for heading in (
        "## 1. Fan-out",
        "## 2. The dispatcher",
        "## 3. Pages",
        "## 4. The purge",
        "## 5. The e-mail pipeline",
        "## 6. The compliance overview's CSV export",
        "## 7. Scale-out",
        "## 8. The import of contacts from a CSV file",
    ):
        assert heading in result.stdout
    assert "fan-out 300" in result.stdout
    assert "scale-out 2 worker(s)" in result.stdout


@pytest.mark.services
def test_the_ten_years_section_runs_small(tmp_path):
    """The history section is run on its own (it is not part of a full run): its small run
    seeds, grows, asks every page and prints its table."""
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    import psycopg

    db = connection.settings_dict
    name = "backoffice_bench_history_smoke"
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{name}",
        "VAR_DIR": str(tmp_path),
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "bench", "--small", "--no-write", "--section", "history"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        with psycopg.connect(
            host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert result.returncode == 0, result.stderr[-3000:]
    assert "## Ten years of history" in result.stdout
    assert "history 6,000/3,000:" in result.stdout
    assert "| GDPR export of the person (zip) |" in result.stdout


def test_the_benchmark_says_what_is_missing_before_it_starts(tmp_path):
    """Without PostgreSQL (or wrk) it stops at once with a message, not after minutes."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bench.sqlite3'}",
        "PATH": str(tmp_path),  # no wrk, no curl
        "VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--small", "--no-write", "--section", "pages"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "bench: cannot start." in result.stderr
    assert "`wrk` is not on PATH" in result.stderr
    assert "measures PostgreSQL" in result.stderr
    assert "Traceback" not in result.stderr


# The report's prose, checked against the code it describes ------------------------------------

FAKE_PAGE = {"rate": 100.0, "requests": 1000, "p50": 10.0, "p95": 20.0, "queries": 7}


def fake_results() -> dict:
    fan_out_row = {
        "n": 1000,
        "ours_rate": 9000.0,
        "ours_queries": 9,
        "ours_memory": 1.0,
        "naive_rate": 300.0,
        "naive_queries_per_profile": 6.0,
        "naive_sample": 1000,
        "floor_rate": 12000.0,
    }
    return {
        "fan-out": [fan_out_row],
        "dispatcher": {
            "due_every": 100,
            "ours": [
                {
                    "groups": groups,
                    "orgs": groups // 100,
                    "due": groups // 100,
                    "missed": groups // 10000,
                    "seconds": groups / 1e6,
                    "queries": 1,
                    "python_seconds": groups / 1e5,
                    "python_queries": 4,
                    "floor_seconds": groups / 2e6,
                }
                for groups in (1000, 10000)
            ],
            "interval": [{"tasks": n, "seconds": n / 1e4, "queries": 3} for n in (500, 1000)],
            "crontab": [{"tasks": n, "seconds": n / 5e3, "queries": 4} for n in (500, 1000)],
        },
        "pages": fake_pages(),
        "email": [
            {
                "n": 100,
                "ours_rate": 100.0,
                "ours_queries": 300,
                "ours_memory": 1.0,
                "floor_rate": 1000.0,
                "batch": 100,
            }
        ],
        "export": [
            {
                "profiles": 100,
                "fields": 10,
                "cells": 1000,
                "ours_rate": 1000.0,
                "ours_queries": 5,
                "ours_memory": 1.0,
                "floor_rate": 4000.0,
            }
        ],
        "scale-out": {
            "runs": 10,
            "profiles": 100,
            "chunk": 2000,
            "rows": [
                {
                    "workers": workers,
                    "label": label,
                    "seconds": 10.0 / workers,
                    "rate": 100.0 * workers,
                    "tasks": [10 // workers] * workers,
                    "dossiers": 1000,
                    "duplicates": 0,
                    "invitations": 1000,
                    "worker_cpu": 1.0,
                }
                for workers, label in ((1, "one"), (2, "two"))
            ],
        },
        "purge": {
            "n": 100,
            "uploads": 50,
            "seconds": 1.0,
            "queries": 10,
            "memory": 1.0,
            "storage_deletes": 50,
        },
        "import": [
            {
                "n": n,
                "fields": 10,
                "ours_seconds": n / 400,
                "ours_rate": 400.0,
                "ours_queries": 40,
                "ours_memory": 20.0,
                "again_seconds": n / 1600,
                "floor_seconds": n / 1200,
                "floor_rate": 1200.0,
                "naive_rate": 15.0,
                "naive_sample": 500,
            }
            for n in (10000, 100000)
        ],
    }


def fake_pages() -> dict:
    from bench.sections.pages import PAGE_ROWS

    pages: dict = {key: dict(FAKE_PAGE) for key, _label in PAGE_ROWS}
    pages.update(
        seconds=10,
        profiles=1001,
        run_size=1001,
        profile_fields=112,
        history=20,
        history_fields=100,
        dossier_count=2002,
        submitters=300,
    )
    pages["submit"]["submitted"] = 900
    pages["middleware"] = {
        "rounds": 10,
        "ceiling_ms": 5.0,
        "rows": [{"label": "tenancy", "ms": 1.0}],
        "all_ms": 2.0,
    }
    return pages


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def prose_errors(text: str) -> list[str]:
    """What the prose claims that the code does not bear out.

    Every dotted name in backquotes must import; every backquoted term of a sentence saying
    what "ours" does must occur in the source of the modules that sentence names (its SQL
    pieces around each "…").
    """
    errors = []
    for name in set(re.findall(r"`([a-z_]+(?:\.[A-Za-z_]+)+)`", text)):
        if _resolve(name) is None:
            errors.append(f"`{name}` does not exist")
    for path in set(re.findall(r"`((?:[a-z_]+/)+[a-z_0-9]+\.py)`", text)):
        if not (ROOT / path).exists():
            errors.append(f"`{path}` does not exist")
    for sentence in re.split(r"(?<=[.)])\s+(?=[A-Z])", _normal(text)):
        if not sentence.startswith("Ours"):
            continue
        names = re.findall(r"`([a-z_]+(?:\.[A-Za-z_]+)+)`", sentence)
        modules = {inspect.getmodule(_resolve(n)) for n in names}
        sources = _normal(" ".join(_source(m) for m in modules if m is not None))
        for term in re.findall(r"`([^`]+)`", sentence):
            if term in names:
                continue
            for piece in (p.strip() for p in term.split("…")):
                if piece and piece not in sources:
                    errors.append(f"{sentence[:60]!r}… claims `{piece}`, absent from {names}")
    return errors


def _source(module: object) -> str:
    try:
        return inspect.getsource(module)  # type: ignore[arg-type]
    except (OSError, TypeError):  # a module written in C, such as _csv
        return ""


def _resolve(name: str) -> object | None:
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            target = getattr(target, attribute, None)
            if target is None:
                return None
        return target
    return None


@pytest.mark.django_db
def test_the_reports_prose_is_true_of_the_code():
    from bench.report import report_text

    text = report_text(fake_results(), connection.vendor)
    assert "open_run" in text and "dispatch_due" in text
    assert prose_errors(text) == []


def test_the_ten_years_table_is_true_of_the_code():
    from bench.sections.history import PAGES, render_history

    def size(history: int, audit: int) -> dict:
        return {
            "history": history,
            "audit": audit,
            "pages": {key: {"seconds": 0.02, "queries": 12} for key, _label in PAGES},
        }

    fake = {
        "sizes": [size(100_000, 100_000), size(10_000_000, 5_000_000)],
        "person_history": 2000,
        "person_entries": 600,
        "other_orgs": 100,
        "repeat": 7,
    }
    text = "\n".join(render_history(fake))
    assert "| GDPR export of the person (zip) | 20.0 | 12 | 20.0 | 12 | 1.00 |" in text
    assert prose_errors(text) == []


def test_the_prose_check_catches_a_false_claim():
    """The claim the report once made: the fan-out uses bulk_create. It does not."""
    false = "Ours is `monitoring.dispatch.open_run` (keyset pages, `bulk_create` of the rows)."
    assert prose_errors(false) == [
        f"{false[:60]!r}… claims `bulk_create`, absent from ['monitoring.dispatch.open_run']"
    ]
    assert prose_errors("See `monitoring.dispatch.open_everything`.") == [
        "`monitoring.dispatch.open_everything` does not exist"
    ]


def test_the_committed_report_is_true_of_the_code():
    assert prose_errors((ROOT / "docs" / "PERFORMANCE.md").read_text()) == []


# The report: generated figures, a hand-written analysis that quotes them ---------------------


def test_the_analysis_quotes_the_generated_figures():
    """Each number the hand-written analysis marks as quoted, `[0.60][fan-out.floor.worst]`,
    is the figure of that name in the generated part above it."""
    from bench.report import quote_errors

    text = (ROOT / "docs" / "PERFORMANCE.md").read_text()
    assert quote_errors(text) == []
    quoted = re.findall(r"\]\[([a-z0-9_.-]+)\]", text.split("## What limits each figure")[1])
    assert len(set(quoted)) >= 15  # the analysis does quote, and the check reads its quotes


@pytest.mark.django_db
def test_the_committed_figures_are_the_generators():
    """The generated part names the figures the generator names, so that a new run of the
    benchmark still defines every figure the analysis quotes."""
    from bench.report import DEFINITION, END, figures

    generated = (ROOT / "docs" / "PERFORMANCE.md").read_text().split(END)[0]
    assert [name for name, _value in DEFINITION.findall(generated)] == list(figures(fake_results()))


def test_a_misquoted_figure_is_caught():
    from bench.report import END, quote_errors

    generated = '[email.floor.worst]: #targets "0.33"\n\n' + END
    assert quote_errors(generated + "\nAt [0.33][email.floor.worst] of the floor.") == []
    assert quote_errors(generated + "\nAt [0.35][email.floor.worst] of the floor.") == [
        "[0.35][email.floor.worst]: the generated figure is 0.33"
    ]
    assert quote_errors(generated + "\nAt [0.33][email.floor.best].") == [
        "[0.33][email.floor.best]: no figure 'email.floor.best' in the generated part"
    ]


@pytest.mark.django_db
def test_a_new_run_rewrites_the_figures_and_keeps_the_analysis(tmp_path):
    from bench.report import BEGIN, END, write_report

    report = tmp_path / "PERFORMANCE.md"
    report.write_text(f"{BEGIN}\nold tables\n{END}\n\n## Analysis\n\nBy hand.\n")
    write_report(fake_results(), connection.vendor, path=report)
    text = report.read_text()
    assert text.startswith(BEGIN)
    assert "old tables" not in text
    assert "## 1. Fan-out" in text and "| Dispatcher: a pass under a second |" in text
    assert text.endswith(f"{END}\n\n## Analysis\n\nBy hand.\n")
