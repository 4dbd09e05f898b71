"""The benchmark's sections, in the report's order: each measures one thing at scale beside the
naive way and the database's floor (`bench_<section>`), and renders its table
(`render_<section>`)."""

from __future__ import annotations

# A full run measures them all and the report holds them all; `history` seeds ten million
# rows, which takes minutes: `--section` leaves it out of a quicker run.
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
    "daily",
    "history",
]
