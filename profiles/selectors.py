"""The shared predicates of profiles and data fields, for the statements that stay in SQL.

In the ORM they are QuerySet methods (`ProfileQuerySet.active()`, `archived()`,
`DataFieldQuerySet.active()`): every query says `.active()` rather than spelling out the
column. The raw statements (the outbox's INSERT … SELECT in `dossiers.selectors`, the
compliance overview's cells in `monitoring.overview`) take the same rule from here;
tests/profiles/test_selectors.py proves on random data that each fragment selects the rows
its method selects.
"""

from __future__ import annotations


def active_sql(alias: str) -> str:
    """`.active()` of the profile or data field the SQL names `alias`: not archived."""
    return f"{alias}.archived_at IS NULL"


def archived_sql(alias: str) -> str:
    """`.archived()` of the profile or data field the SQL names `alias`."""
    return f"{alias}.archived_at IS NOT NULL"
