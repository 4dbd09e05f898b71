"""A run's follow-up: what came of its dossiers, and who has not answered.

Read from the dossiers while they exist and from the purge's records once they are gone,
so last year's runs answer as today's do. Each question is one or two grouped queries,
whatever the size of the run.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from dossiers.models import Dossier, DossierRecord
from monitoring.models import UpdateGroup
from outbox.models import Message

Status = Dossier.Status

# Answered by the client, whatever staff have decided since.
ANSWERED = (Status.SUBMITTED, Status.TO_REVIEW, Status.APPROVED)
# Owed by the client: still open, sent back to them, or closed without an answer.
OUTSTANDING = (
    Status.OPEN,
    Status.OPENED,
    Status.IN_PROGRESS,
    Status.CHANGES_REQUESTED,
    Status.EXPIRED,
)


@dataclass
class Outcomes:
    """The counts of one run: every dossier in exactly one status, plus how many were opened."""

    by_status: Counter[str] = field(default_factory=Counter)
    opened: int = 0

    @property
    def sent(self) -> int:
        return sum(self.by_status.values())

    @property
    def answered(self) -> int:
        return sum(self.by_status[s] for s in ANSWERED)

    @property
    def outstanding(self) -> int:
        return sum(self.by_status[s] for s in OUTSTANDING)

    @property
    def completion(self) -> int:
        """Answered, in per cent of those asked (rounded down: 100 only when all answered)."""
        return self.answered * 100 // self.sent if self.sent else 0

    def rows(self) -> list[tuple[str, str, int]]:
        return [(value, label, self.by_status[value]) for value, label in Status.choices]


def outcomes(group: UpdateGroup, periods: list[dt.date]) -> dict[dt.date, Outcomes]:
    """The outcomes of the group's runs of `periods`, in two grouped queries."""
    result = {period: Outcomes() for period in periods}
    live = (
        Dossier.objects.filter(update_group=group, period__in=periods)
        .values("period", "status")
        .annotate(n=Count("id"), opened=Count("first_opened_at"))
        .order_by()
    )
    purged = (
        DossierRecord.objects.filter(update_group=group, period__in=periods)
        .values("period", status=F("outcome"))
        .annotate(n=Count("id"), opened=Count("first_opened_at"))
        .order_by()
    )
    for row in [*live, *purged]:
        counts = result[row["period"]]
        counts.by_status[row["status"]] += row["n"]
        counts.opened += row["opened"]
    return result


def outstanding(
    group: UpdateGroup, period: dt.date, *, status: str = "", query: str = ""
) -> QuerySet[Any]:
    """Who has not answered a run, live dossiers and purged records alike, by name.

    Rows: (last name, first name, company name, profile UUID, status, first opened,
    dossier UUID). One UNION, so a page or an export is one query.
    """
    statuses = [status] if status in OUTSTANDING else list(OUTSTANDING)
    search = Q()
    if query:
        search = (
            Q(profile__last_name__icontains=query)
            | Q(profile__first_name__icontains=query)
            | Q(profile__name__icontains=query)
            | Q(profile__email__icontains=query)
        )
    live = _rows(
        Dossier.objects.filter(update_group=group, period=period, status__in=statuses),
        search,
        state="status",
        ref="uuid",
    )
    purged = _rows(
        DossierRecord.objects.filter(
            update_group=group, period=period, outcome__in=statuses, profile__isnull=False
        ),
        search,
        state="outcome",
        ref="dossier_uuid",
    )
    return live.union(purged, all=True).order_by("sort_name", "p_name", "p_first", "ref")


def _rows(queryset: QuerySet[Any], search: Q, *, state: str, ref: str) -> QuerySet[Any]:
    """The outstanding list's columns, from dossiers or from the purge's records alike."""
    return (
        queryset.filter(search)
        .annotate(
            sort_name=Coalesce(F("profile__last_name"), Value("")),
            p_first=F("profile__first_name"),
            p_name=F("profile__name"),
            p_uuid=F("profile__uuid"),
            state=F(state),
            opened_at=F("first_opened_at"),
            ref=F(ref),
        )
        .values_list("sort_name", "p_first", "p_name", "p_uuid", "state", "opened_at", "ref")
    )


def undeliverable(group: UpdateGroup, periods: list[dt.date]) -> dict[dt.date, int]:
    """E-mails of the runs' dossiers the mail server refused for good, per period, whether
    the dossiers still exist or the purge kept their count on its records."""
    live = (
        Message.objects.filter(
            dossier__update_group=group,
            dossier__period__in=periods,
            status=Message.Status.UNDELIVERABLE,
        )
        .values_list("dossier__period")
        .annotate(count=Count("id"))
        .order_by()
    )
    purged = (
        DossierRecord.objects.filter(update_group=group, period__in=periods, undeliverable__gt=0)
        .values_list("period")
        .annotate(count=Sum("undeliverable"))
        .order_by()
    )
    counts: Counter[dt.date] = Counter()
    for period, n in [*live, *purged]:
        counts[period] += n
    return dict(counts)
