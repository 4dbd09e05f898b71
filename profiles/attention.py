"""Which profiles need attention: apps to the right of profiles say so, the lists ask.

A provider returns SQL selecting profile ids (with its parameters); monitoring registers
one from its AppConfig, so the profile lists filter and flag without importing it.

A note source says something beside some of a profile's fields on its page (an update asked
of the client, the next scheduled one): it gives a probe, an `Exists` on its rows correlated
with the profile's id (`OuterRef("pk")`), which the page reads with the profile itself, and
the notes, read only where the probe found rows. A profile with nothing to say costs no
query of its own; one that has costs one per source that speaks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, QuerySet
from django.db.models.expressions import RawSQL

from profiles.models import Profile

Provider = Callable[[int, str, dt.date, tuple[int, ...]], tuple[str, list[Any]]]
providers: list[Provider] = []


@dataclass(frozen=True)
class NoteSource:
    # Whether the profile (the outer query's row) has anything to say: built per request,
    # as a probe may compare with the time.
    probe: Callable[[], Exists]
    # {field id: note}, each a short text shown beside that field's value.
    notes: Callable[[Profile], dict[int, str]]


note_sources: list[NoteSource] = []


def register(provider: Provider) -> None:
    if provider not in providers:
        providers.append(provider)


def register_notes(probe: Callable[[], Exists], notes: Callable[[Profile], dict[int, str]]) -> None:
    if all(source.notes is not notes for source in note_sources):
        note_sources.append(NoteSource(probe, notes))


def with_note_probes(profiles: QuerySet[Profile]) -> QuerySet[Profile]:
    """`profiles` with each note source's probe read alongside: `field_notes` asks only the
    sources whose probe found rows."""
    return profiles.annotate(
        **{f"notes_probe_{i}": source.probe() for i, source in enumerate(note_sources)}
    )


def field_notes(profile: Profile) -> dict[int, list[str]]:
    """{field id: its notes}, the sources' in the order they registered. On a profile read
    without the probes (`with_note_probes`), every source is asked."""
    notes: dict[int, list[str]] = {}
    for i, source in enumerate(note_sources):
        if getattr(profile, f"notes_probe_{i}", True):
            for field_id, note in source.notes(profile).items():
                notes.setdefault(field_id, []).append(note)
    return notes


def needing_attention(
    profiles: QuerySet[Profile], organization_id: int, kind: str, today: dt.date
) -> QuerySet[Profile]:
    if not providers:
        return profiles.none()
    sql, params = _union(organization_id, kind, today, ())
    return profiles.filter(id__in=RawSQL(sql, params))  # noqa: S611 - SQL built by providers


def flagged(organization_id: int, kind: str, today: dt.date, ids: list[int]) -> set[int]:
    """Which of `ids` need attention: one query for a page of a list."""
    if not providers or not ids:
        return set()
    sql, params = _union(organization_id, kind, today, tuple(ids))
    return set(
        Profile.objects.filter(id__in=RawSQL(sql, params)).values_list("id", flat=True)  # noqa: S611
    )


def _union(
    organization_id: int, kind: str, today: dt.date, ids: tuple[int, ...]
) -> tuple[str, list[Any]]:
    parts = [provider(organization_id, kind, today, ids) for provider in providers]
    return " UNION ".join(sql for sql, _ in parts), [p for _, params in parts for p in params]
