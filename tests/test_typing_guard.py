"""mypy's excused list only shrinks: no module joins the modules excused from type checks.

pyproject.toml's `ignore_errors = true` override names modules that predate the type check.
Each leaves the list when it is next changed; this test fails when a module joins it, under
any override, by a pattern, or by excusing itself in its own first lines. A module that
leaves the list leaves EXCUSED below too (the test says so), so that it cannot come back.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The modules still excused (33 when this test was written, none since issue 23). Never add.
EXCUSED: frozenset[str] = frozenset()

# What mypy does not read at all; a product module joining it would escape the same way.
EXCLUDED = frozenset({"^\\.venv/", "/migrations/", "^bench/", "^tests/", "^staticfiles/"})


def mypy_settings() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]


def excused(settings: dict) -> set[str]:
    modules: set[str] = set()
    for override in settings.get("overrides", []):
        if override.get("ignore_errors"):
            names = override["module"]
            modules.update([names] if isinstance(names, str) else names)
    return modules


def test_no_module_joins_the_excused_list():
    settings = mypy_settings()
    assert not settings.get("ignore_errors"), "ignore_errors set for every module"
    joined = excused(settings) - EXCUSED
    assert not joined, (
        f"{sorted(joined)} joined the modules excused from mypy: fix its errors instead"
    )


def test_the_allow_list_shrinks_with_the_excused_list():
    """A module that left pyproject.toml's list leaves EXCUSED, so that it cannot return."""
    left = EXCUSED - excused(mypy_settings())
    assert not left, f"{sorted(left)} left pyproject.toml's excused list: remove it from EXCUSED"


def test_no_module_leaves_the_type_check_by_exclusion():
    assert set(mypy_settings()["exclude"]) <= EXCLUDED


def test_no_module_excuses_itself():
    """`# mypy: ignore-errors` (or a bare `# type: ignore` before any code) in a module
    excuses the whole module without appearing in pyproject.toml."""
    excluded = re.compile("|".join(mypy_settings()["exclude"]))
    offenders = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if excluded.search(relative):
            continue
        text = path.read_text()
        if re.search(r"^#\s*mypy:\s*ignore[-_]errors", text, re.MULTILINE):
            offenders.append(relative)
            continue
        for line in text.splitlines():
            if line.strip() and not line.startswith("#"):
                break  # the first line of code: a `# type: ignore` after it is local
            if re.match(r"#\s*type:\s*ignore\s*$", line):
                offenders.append(relative)
                break
    assert offenders == []


def test_the_guard_reads_an_excused_module():
    assert excused({"overrides": [{"module": "profiles.views", "ignore_errors": True}]}) == {
        "profiles.views"
    }
