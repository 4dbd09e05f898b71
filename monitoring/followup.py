"""A run's follow-up: what came of its dossiers, and who has not answered.

Read from the dossiers while they exist and from the purge's records once they are gone,
so last year's runs answer as today's do. Each question is one or two grouped queries,
whatever the size of the run.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, F, Q, QuerySet, Sum, UUIDField, Value, When
from django.utils import timezone
from django.utils.functional import Promise

from dossiers import selectors as dossier_selectors
from dossiers import versions
from dossiers.messages import next_reminder_hour, reminders_this_hour
from dossiers.models import Dossier, DossierRecord
from monitoring import workload
from monitoring.models import UpdateGroup, UpdateRun
from outbox.models import Message
from profiles.selectors import active_q

Status = Dossier.Status

# Answered by the client, whatever staff have decided since.
ANSWERED = (Status.SUBMITTED, Status.TO_REVIEW, Status.APPROVED)
# Owed by the client: still open, sent back to them, or closed without an answer; a run's
# "outstanding" list. Not `DossierQuerySet.running()` (the request still runs), which leaves
# out the expired and counts those awaiting review.
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
    # Purged records whose profile has since been erased: counted, but nobody to list.
    unnamed: Counter[str] = field(default_factory=Counter)

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
        """Answered, in per cent of those asked, rounded half up (1 of 6 is 17), but never
        100 before everyone answered nor 0 once someone did."""
        if not self.sent:
            return 0
        rounded = (self.answered * 200 + self.sent) // (2 * self.sent)
        if self.answered < self.sent:
            rounded = min(rounded, 99)
        return max(rounded, 1) if self.answered else 0

    def rows(self) -> list[tuple[str, str | Promise, int]]:
        return [(value, label, self.by_status[value]) for value, label in Status.choices]

    def listed(self, status: str = "") -> int:
        """The length of the outstanding list without a search (see `outstanding`)."""
        return sum(self.by_status[s] - self.unnamed[s] for s in _statuses(status))


def outcomes(group: UpdateGroup, periods: list[dt.date]) -> dict[dt.date, Outcomes]:
    """The outcomes of the group's runs of `periods`, in two grouped queries."""
    result = {period: Outcomes() for period in periods}
    live = (
        Dossier.objects.filter(update_group=group, period__in=periods)
        .values("period", "status")
        # COUNT(*), not of a column the index does not hold (see dossier_run_status).
        .annotate(n=Count("*"), opened=Count("first_opened_at"))
        .order_by()
    )
    purged = (
        DossierRecord.objects.filter(update_group=group, period__in=periods)
        .values("period", status=F("outcome"))
        .annotate(
            n=Count("id"),
            opened=Count("first_opened_at"),
            unnamed=Count("id", filter=Q(profile__isnull=True)),
        )
        .order_by()
    )
    # Two shapes of row (the records' have `unnamed`), read alike.
    rows: list[Mapping[str, Any]] = [*live, *purged]
    for row in rows:
        counts = result[row["period"]]
        counts.by_status[row["status"]] += row["n"]
        counts.opened += row["opened"]
        counts.unnamed[row["status"]] += row.get("unnamed", 0)
    return result


def run_outcomes(group: UpdateGroup, period: dt.date) -> Outcomes:
    """One run's outcomes, kept under the organisation's version of its dossiers
    (`dossiers.versions`): at 100,000 dossiers a run, their one pass over the run's index
    entries was most of the follow-up's page. Every write that moves them (a dossier
    opened, answered, decided, expired, purged or erased) renews the version on commit."""
    return versions.cached(
        group.organization_id,
        f"run:{group.pk}:{period.isoformat()}",
        lambda: outcomes(group, [period])[period],
    )


def _statuses(status: str) -> list[str]:
    return [status] if status in OUTSTANDING else list(OUTSTANDING)


def outstanding(
    group: UpdateGroup, period: dt.date, *, status: str = "", query: str = ""
) -> QuerySet[Any]:
    """Who has not answered a run, live dossiers and purged records alike, by name.

    Rows: (last name, first name, company name, profile UUID, status, first opened,
    dossier UUID, e-mail). One UNION, so a page or an export is one query.
    """
    live, purged = _branches(group, period, status, query)
    return live.union(purged, all=True).order_by(*ORDER)


def remindable(group: UpdateGroup, period: dt.date) -> list[int]:
    """The dossiers of a run that "Remind all outstanding" writes to: still open to the
    client, not yet expired, of a profile not archived."""
    return list(
        Dossier.objects.answerable(timezone.now())
        .filter(active_q("profile"), update_group=group, period=period)
        .values_list("id", flat=True)
    )


# By name, then by dossier: a total order, so that a page read backwards is the same page.
ORDER = ("sort_name", "p_name", "p_first", "ref")


class OutstandingPages:
    """The outstanding list as a paginator reads it: a count and a slice, one query each.

    At a run's size (100,000 dossiers) a COUNT of the list and a sort of all of it before
    OFFSET cost more than the rest of the page. Without a search the count comes from the
    run's outcomes, which the page reads anyway. Each side of the UNION is read in name
    order from the profiles' index and cut at the page's end, and a page past the middle
    is read from the end of the list backwards, so the first and the last page each read
    about fifty rows.
    """

    def __init__(
        self, group: UpdateGroup, period: dt.date, counts: Outcomes, *, status: str, query: str
    ) -> None:
        self.branches = _branches(group, period, status, query)
        self.known = None if query else counts.listed(status)

    def count(self) -> int:
        if self.known is None:
            live, purged = self.branches
            self.known = live.union(purged, all=True).count()
        return self.known

    def __getitem__(self, bounds: slice) -> list[tuple[Any, ...]]:
        start, stop = bounds.start or 0, bounds.stop or 0
        if stop <= start:
            # An empty list's page: a side cut at nothing would leave a sliced query to
            # reorder, which PostgreSQL's branch below cannot.
            return []
        total = self.count()
        backwards = total - stop < start
        order = [f"-{name}" for name in ORDER] if backwards else list(ORDER)
        if backwards:
            start, stop = max(total - stop, 0), total - start
        live, purged = self.branches
        if connection.features.supports_slicing_ordering_in_compound:
            # Neither side can give the page more rows than it ends with.
            live, purged = live.order_by(*order)[:stop], purged.order_by(*order)[:stop]
        rows = list(live.union(purged, all=True).order_by(*order)[start:stop])
        return rows[::-1] if backwards else rows


def _branches(
    group: UpdateGroup, period: dt.date, status: str, query: str
) -> tuple[QuerySet[Any], QuerySet[Any]]:
    """The live dossiers and the purged records of the outstanding list, as its rows."""
    statuses = _statuses(status)
    search = Q()
    if query:
        search = (
            Q(profile__last_name__icontains=query)
            | Q(profile__first_name__icontains=query)
            | Q(profile__name__icontains=query)
            | Q(profile__email__icontains=query)
        )
    # The profile's organisation is the group's already; said again, it lets PostgreSQL walk
    # the profiles in name order from their index and stop at the page's end.
    same_tenant = Q(profile__organization=group.organization_id)
    live = _rows(
        Dossier.objects.filter(same_tenant, update_group=group, period=period, status__in=statuses),
        search,
        state="status",
        ref="uuid",
    )
    purged = _rows(
        DossierRecord.objects.filter(
            same_tenant,
            update_group=group,
            period=period,
            outcome__in=statuses,
            profile__isnull=False,
        ),
        search,
        state="outcome",
        ref="dossier_uuid",
    )
    return live, purged


def _rows(queryset: QuerySet[Any], search: Q, *, state: str, ref: str) -> QuerySet[Any]:
    """The outstanding list's columns, from dossiers or from the purge's records alike."""
    return (
        queryset.filter(search)
        .annotate(
            # The profile is joined, never null here: the bare column keeps its index usable.
            sort_name=F("profile__last_name"),
            p_first=F("profile__first_name"),
            p_name=F("profile__name"),
            p_uuid=F("profile__uuid"),
            state=F(state),
            opened_at=F("first_opened_at"),
            ref=F(ref),
            p_email=F("profile__email"),
        )
        .values_list(
            "sort_name", "p_first", "p_name", "p_uuid", "state", "opened_at", "ref", "p_email"
        )
    )


def undeliverable(group: UpdateGroup, periods: list[dt.date]) -> dict[dt.date, int]:
    """E-mails of the runs' dossiers the mail server refused for good, per period, whether
    the dossiers still exist or the purge kept their count on its records."""
    # From the organisation's few refused messages (the outbox's partial index) to their
    # links, rather than from every message of the runs' dossiers.
    live = (
        Message.objects.filter(
            organization_id=group.organization_id,
            status=Message.Status.UNDELIVERABLE,
            dossier_link__dossier__update_group=group,
            dossier_link__dossier__period__in=periods,
        )
        .values_list("dossier_link__dossier__period")
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
    # One statement for both: the page asks it on each view.
    for period, n in live.union(purged, all=True):
        counts[period] += n
    return dict(counts)


def unreachable(group: UpdateGroup, period: dt.date) -> int:
    """Outstanding dossiers of a run that e-mail cannot reach (a bounce for good or a
    complaint, the address still failing): not "not answered" but never asked, counted apart."""
    return Dossier.objects.filter(
        update_group=group,
        period=period,
        status__in=OUTSTANDING,
        pk__in=dossier_selectors.not_reached_ids(group.organization_id),
    ).count()


def unreachable_with(
    group: UpdateGroup, period: dt.date, dossier_uuids: list[Any]
) -> tuple[int, set[Any]]:
    """`unreachable`, and those of a page's dossiers (by UUID) among them, in one query: the
    run's unreachable dossiers grouped by their UUID where it is on the page, the others
    together, so that the rows stay a page's few whatever their number."""
    on_page: Any = Value(None, output_field=UUIDField())
    if dossier_uuids:
        on_page = Case(When(uuid__in=dossier_uuids, then=F("uuid")), default=on_page)
    rows = (
        Dossier.objects.filter(
            update_group=group,
            period=period,
            status__in=OUTSTANDING,
            pk__in=dossier_selectors.not_reached_ids(group.organization_id),
        )
        .values_list(on_page)
        .annotate(n=Count("*"))
        .order_by()
    )
    total, among = 0, set()
    for ref, n in rows:
        total += n
        if ref is not None:
            among.add(ref)
    return total, among


@dataclass(frozen=True)
class Progress:
    """How far a long action has gone: `done` of `total`, `failed` of them for good, and
    `waiting` for a retry after a first failure."""

    done: int
    total: int
    failed: int = 0
    waiting: int = 0

    @property
    def settled(self) -> bool:
        """Nothing left that the next few seconds can move: polling stops."""
        return self.done + self.failed + self.waiting >= self.total

    @property
    def percent(self) -> int:
        if not self.total:
            return 100
        shown = (self.done * 200 + self.total) // (2 * self.total)
        return min(shown, 99) if self.done < self.total else 100


def opening_progress(run: UpdateRun) -> Progress:
    """A run being opened: its dossiers so far, of the profiles the group asks. The total is
    counted once per run and kept a few minutes, so a page polling it costs one indexed count
    of the run's dossiers each time."""
    group = run.group
    opened = Dossier.objects.filter(update_group=group, period=run.period).count()
    # The run's moment in the key: a run recorded again (a database restored) counts again.
    total = int(
        cache.get_or_set(
            f"monitoring:run-total:{run.pk}:{run.created_at.isoformat()}",
            lambda: workload.asked_count(group, run.period),
            timeout=600,
        )
        or 0
    )
    return Progress(done=opened, total=max(total, opened))


def reminder_progress(run: UpdateRun, now: dt.datetime | None = None) -> Progress | None:
    """This hour's "Remind all" of a run in the outbox: sent, refused for good, waiting for a
    retry, of all queued; None when there is none.

    The run says when it was last reminded (`remind_run` marks it in the reminders'
    transaction): in any other hour there is nothing to count, and the outbox is not asked,
    since that question reads every message of the run's dossiers, 200,000 at a run of
    100,000 invited clients, to find none."""
    now = now or timezone.now()
    if run.reminded_at is None or next_reminder_hour(run.reminded_at) <= now:
        return None
    by_status: Counter[str] = Counter()
    retried = 0
    for status, n, failed_once in (
        reminders_this_hour(
            Q(
                dossier_link__dossier__update_group=run.group_id,
                dossier_link__dossier__period=run.period,
            ),
            now,
        )
        .values_list("status")
        .annotate(n=Count("*"), failed_once=Count("id", filter=~Q(last_error="")))
        .order_by()
    ):
        by_status[status] += n
        if status == Message.Status.QUEUED:
            # Failed once and waiting for its retry; one being sent right now is not.
            retried += failed_once
    total = sum(by_status.values()) - by_status[Message.Status.CANCELLED]
    if not total:
        return None
    return Progress(
        done=by_status[Message.Status.SENT],
        total=total,
        failed=by_status[Message.Status.UNDELIVERABLE],
        waiting=retried,
    )
