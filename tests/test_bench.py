"""A small run of the benchmark keeps it from rotting; its figures are not asserted."""

from __future__ import annotations

import importlib
import inspect
import json
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
    """Every section, the ten years of history and the requests of the day included, in
    seconds each; the saved figures make the report."""
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    need_service(shutil.which("wrk") is not None, "wrk")
    import psycopg

    from bench.sections import SECTIONS

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
    saved = tmp_path / "figures.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--small", "--no-write", "--save", str(saved)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
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
        "## 9. The dispatcher of rolling and tiered groups",
        "## 10. The requests of the day",
        "## 11. Ten years of history",
    ):
        assert heading in result.stdout
    assert "fan-out 300" in result.stdout
    assert "scale-out 2 worker(s)" in result.stdout
    assert "history 6,000/3,000:" in result.stdout
    assert "| GDPR export of the person (zip) |" in result.stdout
    figures = json.loads(saved.read_text())
    assert list(figures["results"]) == SECTIONS
    assert list(figures["loads"]) == SECTIONS and figures["small"] is True
    assert "PostgreSQL" in figures["machine"]

    report = tmp_path / "PERFORMANCE.md"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--report-from", str(saved), "--output", str(report)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = report.read_text()
    assert "Measured by `python -m bench` in one run;" in text
    assert text.count("\nLoad average ") == len(SECTIONS)
    assert "make bench ARGS=--small" in text


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
        "schedules": {
            "dispatcher": [
                {
                    "profiles": n,
                    "rows": 3 * n,
                    "due": 10_000,
                    "ours_seconds": n / 2e6,
                    "ours_queries": 40,
                    "naive_seconds": n / 1e3,
                    "naive_sample": 3000,
                    "floor_seconds": n / 4e6,
                }
                for n in (100_000, 1_000_000)
            ],
            "tier_change": {
                "profiles": 100_000,
                "page": 1000,
                "pages": 100,
                "rows_seconds": 4.0,
                "rows_queries_per_page": 3,
                "history_seconds": 2.0,
                "history_queries_per_page": 2,
                "floor_seconds": 2.4,
            },
        },
        "daily": [
            {
                "requests": requests,
                "recipients": recipients,
                "ours_rate": 300.0,
                "ours_seconds": recipients / 300,
                "ours_queries": recipients // 50,
                "floor_rate": 500.0,
            }
            for requests, recipients in ((10_000, 4000), (100_000, 40_000))
        ],
        "history": fake_history(),
    }


def fake_history() -> dict:
    from bench.sections.history import PAGES

    def size(history: int, audit: int, seconds: float) -> dict:
        return {
            "history": history,
            "audit": audit,
            "pages": {key: {"seconds": seconds, "queries": 12} for key, _label in PAGES},
        }

    return {
        "sizes": [size(100_000, 100_000, 0.02), size(10_000_000, 5_000_000, 0.025)],
        "person_history": 2000,
        "person_entries": 600,
        "other_orgs": 100,
        "repeat": 7,
    }


def fake_gathered(results: dict | None = None, small: bool = False) -> object:
    from bench.report import Gathered
    from bench.sections import SECTIONS

    loads = {name: [0.5 + i / 10, 0.6 + i / 10] for i, name in enumerate(SECTIONS)}
    return Gathered(results or fake_results(), small, loads, machine="2 cores (a CPU)")


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

    text = report_text(fake_gathered(), connection.vendor)
    assert "open_run" in text and "dispatch_due" in text
    assert prose_errors(text) == []


def test_the_ten_years_table_is_true_of_the_code():
    from bench.sections.history import render_history

    text = "\n".join(render_history(fake_history()))
    assert "| GDPR export of the person (zip) | 20.0 | 12 | 25.0 | 12 | 1.25 |" in text
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


def test_the_committed_figures_are_the_generators():
    """The generator still names every figure the committed report defines, so that a new
    run of the benchmark still defines every figure the analysis quotes (it may name more:
    those of sections the committed report was written before)."""
    from bench.report import DEFINITION, END, figures

    generated = (ROOT / "docs" / "PERFORMANCE.md").read_text().split(END)[0]
    committed = [name for name, _value in DEFINITION.findall(generated)]
    named = list(figures(fake_results()))
    assert [name for name in named if name in committed] == committed


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
    write_report(fake_gathered(), connection.vendor, path=report)
    text = report.read_text()
    assert text.startswith(BEGIN)
    assert "old tables" not in text
    assert "## 1. Fan-out" in text and "| Dispatcher: a pass under a second |" in text
    assert text.endswith(f"{END}\n\n## Analysis\n\nBy hand.\n")


# The report from separate runs ---------------------------------------------------------------


def test_every_section_is_in_the_report_with_its_load_average():
    from bench.report import report_text
    from bench.sections import SECTIONS

    text = report_text(fake_gathered(), "postgresql")
    for i, heading in enumerate(re.findall(r"^## \d+\. .*$", text, re.MULTILINE)):
        assert heading.startswith(f"## {i + 1}. ")
    # Each heading is followed by its load average.
    assert len(re.findall(r"^## \d+\. .*\n\nLoad average ", text, re.MULTILINE)) == len(SECTIONS)
    assert "## 10. The requests of the day: one e-mail per recipient\n\nLoad average 1.40" in text
    assert (
        "## 11. Ten years of history: the pages that read the history and the audit log\n\n"
        "Load average 1.50 before this section's run, 1.60 after (one minute's, its own"
        " processes counted).\n\n"
    ) in text
    assert "Machine: 2 cores (a CPU)." in text
    assert "Measured by `python -m bench` in one run;" in text


def test_the_targets_of_every_section_are_judged_and_named():
    from bench.report import figures, render_targets

    targets = "\n".join(render_targets(fake_results()))
    for row in (
        "| Pages: the home page ≥ ½ of the ceiling | 1.00 | met |",
        "| Pages: the ceiling, the signed-in base layout, ≥ ½ of bare Django | 1.00 | met |",
        "| Schedules: a pass over the per-profile rows of 1,000,000 profiles under a second |"
        " 0.50 s for 10,000 due among 3,000,000 rows | met |",
        "| Schedules: a tier change ≥ ½ of its `UPDATE … FROM` floor | 0.60 | met |",
        "| Requests of the day: ≥ ½ of the `smtplib` floor | 0.60 at worst | met |",
        "| Ten years of history: each page at 10,000,000 rows of history and 5,000,000 audit"
        " entries within 2 times its time at 100,000 | 1.25 at worst (Profile page) | met |",
    ):
        assert row in targets
    named = figures(fake_results())
    assert {
        "pages.home.ceiling": "1.00",
        "pages.ceiling.bare": "1.00",
        "schedules.profiles": "1,000,000",
        "schedules.seconds": "0.50",
        "schedules.tier.floor": "0.60",
        "daily.floor.worst": "0.60",
        "daily.recipients": "40,000",
        "daily.queries-per-email": "0.02",
        "history.rows": "10,000,000",
        "history.audit": "5,000,000",
        "history.ratio.worst": "1.25",
        "history.ratio.export": "1.25",
        "history.ratio.audit-older": "1.25",
    }.items() <= named.items()


def test_a_target_missed_says_so():
    from bench.report import targets

    results = fake_results()
    results["schedules"]["dispatcher"][-1].update(profiles=200, ours_seconds=1.5)
    results["daily"][0]["ours_rate"] = 200.0
    results["history"]["sizes"][-1]["pages"]["audit_older"]["seconds"] = 0.05
    judged = {target: (measured, verdict) for target, measured, verdict in targets(results)}
    assert judged[
        "Schedules: a pass over the per-profile rows of 1,000,000 profiles under a second"
        " (not measured: 200 profiles here)"
    ] == ("1.50 s for 10,000 due among 3,000,000 rows", "not met")
    assert judged["Requests of the day: ≥ ½ of the `smtplib` floor"] == (
        "0.40 at worst",
        "not met",
    )
    assert judged[
        "Ten years of history: each page at 10,000,000 rows of history and 5,000,000 audit"
        " entries within 2 times its time at 100,000"
    ] == ("2.50 at worst (Audit log, a page five years back (Older link))", "not met")


def _save(path: Path, results: dict, small: bool = True, **more: object) -> Path:
    from bench.sections import SECTIONS

    loads = {name: [1.0, float(SECTIONS.index(name))] for name in results}
    path.write_text(json.dumps({"results": results, "small": small, "loads": loads, **more}))
    return path


def test_figures_saved_by_separate_runs_are_gathered(tmp_path):
    """A later file's section wins, with its load average; each file that gave a section
    counts as a run."""
    from bench.report import gather

    results = fake_results()
    first = _save(tmp_path / "a.json", {k: v for k, v in results.items() if k != "history"})
    again = dict(results["daily"][0], ours_rate=450.0)
    second = _save(tmp_path / "b.json", {"daily": [again], "history": results["history"]})
    gathered = gather([first, second])
    assert list(gathered.results) == list(results)
    assert gathered.results["daily"] == [again]
    assert gathered.results["fan-out"] == results["fan-out"]
    assert gathered.loads["daily"] == [1.0, 9.0] and gathered.loads["fan-out"] == [1.0, 0.0]
    assert (gathered.runs, gathered.small) == (2, True)
    # A file wholly overridden is not a run of the report.
    assert gather([second, first, second]).runs == 2


def test_gathering_fails_on_a_missing_section_or_mixed_sizes(tmp_path):
    from bench.report import ReportError, gather

    results = fake_results()
    most = _save(tmp_path / "most.json", {k: v for k, v in results.items() if k != "history"})
    with pytest.raises(ReportError, match=r"no figures for history in .*most\.json"):
        gather([most])
    rest = _save(tmp_path / "rest.json", {"history": results["history"]}, small=False)
    with pytest.raises(ReportError, match="small and full-size figures are mixed"):
        gather([most, rest])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ReportError, match="not figures saved by --save"):
        gather([tmp_path / "bad.json"])


def test_a_report_gathered_from_several_machines_names_each_sections_machine(tmp_path):
    from bench.report import gather, report_text

    results = fake_results()
    rest = _save(tmp_path / "rest.json", {"history": results["history"]}, machine="8 cores")
    most = _save(tmp_path / "most.json", results, machine="2 cores")
    gathered = gather([most, rest])
    assert gathered.machines is not None
    assert gathered.machines["history"] == "8 cores" and gathered.machines["pages"] == "2 cores"
    text = report_text(gathered, "sqlite")
    assert "Machines: the sections were measured on more than one" in text
    assert "Machine: " not in text
    history = text[text.index("## 11. Ten years") :]
    assert history.split("\n")[2].endswith("Measured on 8 cores.")
    fan_out = text[text.index("## 1. Fan-out") :]
    assert fan_out.split("\n")[2].endswith("Measured on 2 cores.")
    # One machine: one line on top, none under the headings.
    alone = report_text(gather([most]), "sqlite")
    assert "Machine: 2 cores." in alone and "Measured on" not in alone
    # A later file that replaces every section of an earlier one: its machine is the report's.
    again = _save(tmp_path / "again.json", results, machine="8 cores")
    replaced = gather([most, again])
    assert (replaced.machine, replaced.machines) == ("8 cores", None)


def test_the_report_is_written_from_several_saved_files(tmp_path):
    """`--report-from` on small figures saved by three runs, without measuring anything."""
    results = fake_results()
    machine = "2 cores (a CPU), PostgreSQL 15, Python 3.11"
    names = list(results)
    files = [
        _save(tmp_path / f"{i}.json", {k: results[k] for k in part}, machine=machine)
        for i, part in enumerate((names[:4], names[4:9], names[9:]))
    ]
    report = tmp_path / "PERFORMANCE.md"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'none.sqlite3'}",
        "VAR_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "bench", "--report-from", *map(str, files)]
    result = subprocess.run(
        [*command, "--output", str(report), "--conditions", "Alone on the machine."],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = report.read_text()
    assert "Measured by `python -m bench` in 3 runs (`--section NAME --save FILE`" in text
    assert "Alone on the machine. Reproduce with:" in text
    assert f"Machine: {machine}." in text
    assert "make bench ARGS=--small" in text
    assert text.count("\nLoad average ") == len(names)
    assert "| Requests of the day: ≥ ½ of the `smtplib` floor | 0.60 at worst | met |" in text
    assert '[history.ratio.worst]: #targets "1.25"' in text

    result = subprocess.run(
        [*command[:-1], "--output", str(report)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "bench: cannot write the report: no figures for daily, history" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.django_db
def test_the_benchmark_analyses_only_the_tables_that_hold_rows():
    """A table analysed empty is planned as empty for the rest of the session, however much
    a measure then writes to it (its foreign-key checks scan it); one never analysed is
    planned as a new table is. The benchmark leaves empty tables as they are."""
    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    from bench.common import analyze

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_probe_empty (id integer)")
        cursor.execute("CREATE TABLE bench_probe_filled (id integer)")
        cursor.execute("INSERT INTO bench_probe_filled SELECT generate_series(1, 50)")
        analyze()
        cursor.execute(
            "SELECT relname, reltuples FROM pg_class"
            " WHERE relname IN ('bench_probe_empty', 'bench_probe_filled')"
        )
        found = dict(cursor.fetchall())
    assert found == {"bench_probe_empty": -1, "bench_probe_filled": 50}
