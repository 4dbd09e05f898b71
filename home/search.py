"""The header's search: a name or an e-mail across the organisation's contacts, companies
and dossiers, each kind listed apart.

Case-insensitive everywhere; accent-insensitive on PostgreSQL, through its `unaccent`
extension (home/migrations/0001); SQLite has no such function and compares accents as typed.
Every word must match, as in the lists' own search.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from dossiers.models import Dossier
from organizations.models import Organization
from profiles.models import Kind, Profile

# Each kind shows this many; its list, searched for the same text, shows the rest.
SHOWN = 10
WORDS = 5


@dataclass
class Found:
    rows: list[Any] = field(default_factory=list)
    more: bool = False


@dataclass
class Results:
    contacts: Found = field(default_factory=Found)
    companies: Found = field(default_factory=Found)
    dossiers: Found = field(default_factory=Found)

    @property
    def empty(self) -> bool:
        return not (self.contacts.rows or self.companies.rows or self.dossiers.rows)


def _contains(column: str, word: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(**{f"{column}__unaccent__icontains": word})
    return Q(**{f"{column}__icontains": word})


def _any(columns: tuple[str, ...], words: list[str]) -> Q:
    """Every word in one of the columns."""
    matched = Q()
    for word in words:
        one = Q()
        for column in columns:
            one |= _contains(column, word)
        matched &= one
    return matched


def _first(queryset: QuerySet[Any]) -> Found:
    rows = list(queryset[: SHOWN + 1])
    return Found(rows=rows[:SHOWN], more=len(rows) > SHOWN)


def everything(organization: Organization, query: str) -> Results:
    words = query.split()[:WORDS]
    if not words:
        return Results()
    profiles = Profile.objects.filter(organization=organization)
    return Results(
        contacts=_first(
            profiles.filter(kind=Kind.CONTACT)
            .filter(_any(("first_name", "last_name", "email"), words))
            .select_related("company")
            .order_by("last_name", "first_name", "id")
        ),
        companies=_first(
            profiles.filter(kind=Kind.COMPANY)
            .filter(_any(("name", "email", "registration_number"), words))
            .order_by("name", "id")
        ),
        dossiers=_first(
            Dossier.objects.filter(organization=organization)
            .filter(
                _any(
                    (
                        "profile__first_name",
                        "profile__last_name",
                        "profile__name",
                        "profile__email",
                        "title",
                    ),
                    words,
                )
            )
            .select_related("profile")
            .order_by("-created_at", "-id")
        ),
    )
