"""Archived or not: the one rule of profiles and data fields, in the forms queries need.

A profile or a data field is active until archived (`archived_at` set). Lists, choices,
audiences and jobs read the active ones; in the ORM through the QuerySet methods
(`Profile.objects.active()`, `.archived()`, `DataField.objects.active()`, `.archived()`,
built on `active_q` here), through a relation with `active_q("profile")`, and in the raw
statements that stay SQL (the outbox's INSERT … SELECT in `dossiers.selectors`, the
compliance overview in `monitoring.overview`) with `active_sql("p")`.
tests/profiles/test_selectors.py proves on random data that each form selects the same rows.

It imports no model, so that the models build their QuerySet methods on it.
"""

from __future__ import annotations

from django.db.models import Q


def _column(through: str) -> str:
    return f"{through}__archived_at" if through else "archived_at"


def active_q(through: str = "") -> Q:
    """Not archived: the profile or data field itself, or the one reached `through` a
    relation (`active_q("profile")` on values, dossiers)."""
    return Q(**{f"{_column(through)}__isnull": True})


def archived_q(through: str = "") -> Q:
    return Q(**{f"{_column(through)}__isnull": False})


def active_sql(alias: str = "") -> str:
    """`active_q()` for the profile or data field a statement names `alias` (or, without
    one, the table the statement reads)."""
    return f"{_prefix(alias)}archived_at IS NULL"


def archived_sql(alias: str = "") -> str:
    return f"{_prefix(alias)}archived_at IS NOT NULL"


def _prefix(alias: str) -> str:
    return f"{alias}." if alias else ""
