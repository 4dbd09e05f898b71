"""The product reads the clock in one place: `django.utils.timezone.now()` (and what calls it,
`timezone.localdate()`, `timezone.localtime()`), which tests set with time-machine and which
is always aware. A read of the host's clock beside it (`date.today()`, `datetime.now()`,
`time.time()`) gives the host's time zone, escapes the tests' clock and makes a suite that
passes on one day only. Durations use `time.monotonic()`, which is no date."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The product's code; the tests, the benchmark harness and the migrations are not.
SKIPPED_DIRS = {".venv", "tests", "bench", "migrations", "node_modules", "staticfiles", "var"}

# Always a read of the host's clock, called or passed as a default.
READS = {
    "datetime.date.today",
    "datetime.datetime.today",
    "datetime.datetime.now",
    "datetime.datetime.utcnow",
    "time.time",
    "time.time_ns",
}
# The host's clock when called without the moment to convert.
READS_WITHOUT_ARGUMENT = {"time.localtime", "time.gmtime", "time.ctime", "time.asctime"}


def _qualified(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """`dt.date.today` -> `datetime.date.today` through the module's imports."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, name) of each read of the host's clock in a module's source."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for name in node.names:
                if name.asname:
                    aliases[name.asname] = name.name
                else:
                    top = name.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for name in node.names:
                aliases[name.asname or name.name] = f"{node.module}.{name.name}"
    found: list[tuple[int, str]] = []
    calls_without_argument = {
        id(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and not node.args and not node.keywords
    }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute | ast.Name):
            continue
        name = _qualified(node, aliases)
        if name in READS or (name in READS_WITHOUT_ARGUMENT and id(node) in calls_without_argument):
            found.append((node.lineno, name))
    return sorted(set(found))


def _product_modules() -> list[Path]:
    modules = []
    for folder, dirs, files in os.walk(ROOT):
        # Pruned as the walk goes: the virtual environment alone holds thousands of modules.
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
        modules += [Path(folder, name) for name in files if name.endswith(".py")]
    return sorted(modules)


def test_the_product_reads_the_clock_through_timezone_now_only():
    modules = _product_modules()
    assert len(modules) > 100, "the scan found too few modules to be looking in the right place"
    reads = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in modules
        for line, name in clock_reads(path.read_text(encoding="utf-8"))
    ]
    assert not reads, "Read the clock through django.utils.timezone.now():\n" + "\n".join(reads)


@pytest.mark.parametrize(
    "source",
    [
        "import datetime\nx = datetime.date.today()",
        "import datetime as dt\nx = dt.datetime.now(dt.UTC)",
        "from datetime import datetime\nx = datetime.utcnow()",
        "from datetime import date as d\nx = d.today()",
        "import time\nx = time.time()",
        "from time import time\nx = time()",
        "import time\nx = time.localtime()",
        "import datetime\nf = DateField(default=datetime.date.today)",
    ],
)
def test_the_scan_sees_each_way_to_read_the_host_clock(source):
    assert clock_reads(source)


@pytest.mark.parametrize(
    "source",
    [
        "from django.utils import timezone\nx = timezone.now()",
        "from django.utils import timezone\nx = timezone.localdate()",
        "import time\nx = time.monotonic()",
        "import time\nx = time.localtime(0)",
        "import datetime as dt\nx = dt.date.fromisoformat('2027-01-01')",
        "from django.db import models\nf = models.DateTimeField(auto_now_add=True)",
    ],
)
def test_the_scan_leaves_the_injectable_clock_and_durations_alone(source):
    assert not clock_reads(source)
