"""The benchmark's sections, in the report's order: each measures one thing at scale beside the
naive way and the database's floor (`bench_<section>`), and renders its table
(`render_<section>`)."""

from __future__ import annotations

SECTIONS = [
    "fan-out",
    "dispatcher",
    "pages",
    "purge",
    "email",
    "export",
    "scale-out",
    "import",
    "schedules",
]
# Run on their own (`--section`), not yet part of a full run's report; `history` seeds ten
# million rows, which takes minutes a full run cannot spare.
EXTRA_SECTIONS = ["daily", "history"]
