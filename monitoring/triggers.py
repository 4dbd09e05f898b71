"""Trigger events: a change of a group's trigger field makes the profile due for it at once.

- `connect()`: every door's change of a value reaches `record` in its own transaction (the
  staff form, the API, a restore and a dossier's write-back through `values_changed`; an
  import and the API's upsert through `values_imported`), so a rolled-back write leaves no
  trigger. A group's own write-back never triggers it, nor does a change for a profile one
  of the group's requests is still running for.
- `dispatch_triggered(now)`: the dispatcher's pass over the waiting rows: per group, up to
  its daily limit, oldest change first; the period of each request is the local day it opens.
- `cycle_through(...)`: the chain of groups a set of triggers would close into a loop.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scope, scopes_disabled

from dossiers.models import Dossier
from dossiers.opening import open_dossiers
from monitoring import rolling
from monitoring.models import (
    PER_PROFILE,
    GroupField,
    GroupTrigger,
    ProfileSchedule,
    TriggeredRequest,
    UpdateGroup,
)
from monitoring.selectors import group_audience
from organizations import display
from profiles.models import DataField, FieldValueHistory, HistoryKind, Profile

logger = logging.getLogger(__name__)

# One change: (profile id, field id, source, when, the dossier behind a write-back or None).
Change = tuple[int, int, str, dt.datetime, Any]


def connect() -> None:
    from profiles import signals

    signals.values_changed.connect(_values_changed, dispatch_uid="monitoring-triggers")
    signals.values_imported.connect(_values_imported, dispatch_uid="monitoring-triggers-imported")


def _values_changed(profile: Profile, rows: list[FieldValueHistory], **kwargs: Any) -> None:
    changes = [_change(row) for row in rows if row.kind == HistoryKind.CHANGE]
    record(profile.organization_id, changes)


def _values_imported(
    organization_id: int, rows: Iterable[FieldValueHistory], **kwargs: Any
) -> None:
    triggers = _triggers_of(organization_id, None)
    if not triggers:
        # Most organisations name no trigger: the batch's rows are not even built.
        return
    record(
        organization_id,
        [_change(row) for row in rows if row.field_id in triggers],
        triggers=triggers,
    )


def _change(row: FieldValueHistory) -> Change:
    return (row.profile_id, row.field_id, row.source, row.changed_at, row.dossier_uuid)


def _triggers_of(organization_id: int, field_ids: Iterable[int] | None) -> dict[int, list[int]]:
    """{field id: [ids of the active groups it triggers]}, of the fields given or all."""
    with scopes_disabled():
        links = GroupTrigger.objects.filter(organization_id=organization_id, group__is_active=True)
        if field_ids is not None:
            links = links.filter(field_id__in=set(field_ids))
        found: dict[int, list[int]] = defaultdict(list)
        for field_id, group_id in links.values_list("field_id", "group_id"):
            found[field_id].append(group_id)
    return found


def record(
    organization_id: int,
    changes: Sequence[Change],
    *,
    triggers: Mapping[int, list[int]] | None = None,
) -> int:
    """Records the profiles these changes make due, one waiting row per (group, profile), in
    the caller's transaction; returns how many were new. A few queries whatever the size."""
    if not changes:
        return 0
    if triggers is None:
        triggers = _triggers_of(organization_id, {change[1] for change in changes})
    # The earliest change of each (group, profile): the backlog is served oldest first.
    due: dict[tuple[int, int], Change] = {}
    for change in changes:
        for group_id in triggers.get(change[1], ()):
            key = (group_id, change[0])
            if key not in due or change[3] < due[key][3]:
                due[key] = change
    if not due:
        return 0
    with scopes_disabled():
        writers = {change[4] for change in due.values() if change[4] is not None}
        own = (
            dict(Dossier.objects.filter(uuid__in=writers).values_list("uuid", "update_group_id"))
            if writers
            else {}
        )
        # A group's own write-back: the answers it asked for, never a reason to ask again.
        due = {
            key: change
            for key, change in due.items()
            if change[4] is None or own.get(change[4]) != key[0]
        }
        running = set(
            Dossier.objects.running()
            .filter(
                update_group_id__in={group for group, _profile in due},
                profile_id__in={profile for _group, profile in due},
            )
            .values_list("update_group_id", "profile_id")
        )
        rows = [
            TriggeredRequest(
                organization_id=organization_id,
                group_id=group_id,
                profile_id=profile_id,
                field_id=field_id,
                source=source,
                changed_at=when,
            )
            for (group_id, profile_id), (_p, field_id, source, when, _d) in due.items()
            if (group_id, profile_id) not in running
        ]
        # A profile already waiting keeps its place (and its first reason).
        TriggeredRequest.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
    return len(rows)


def cycle_through(
    group_id: int | None,
    own_fields: Iterable[int],
    trigger_fields: Iterable[int],
    organization_id: int,
) -> list[int | None]:
    """The groups of a loop the triggers would form with the group saved as given (None
    stands for a group not yet saved), first one repeated at the end; [] when there is none.

    A group's answers change its own fields; a field that triggers another group makes that
    group ask, whose answers change its fields, and so on: a loop would ask for ever.
    """
    with scopes_disabled():
        owner: dict[int, int | None] = dict(
            GroupField.objects.filter(organization_id=organization_id)
            .exclude(group_id=group_id)
            .values_list("field_id", "group_id")
        )
        triggered: dict[int, list[int | None]] = defaultdict(list)
        for field_id, other in (
            GroupTrigger.objects.filter(organization_id=organization_id)
            .exclude(group_id=group_id)
            .values_list("field_id", "group_id")
        ):
            triggered[field_id].append(other)
    for field_id in own_fields:
        owner[field_id] = group_id
    for field_id in trigger_fields:
        triggered[field_id].append(group_id)
    # An edge from the group whose answers change a field to each group the field triggers.
    edges: dict[int | None, set[int | None]] = defaultdict(set)
    for field_id, groups in triggered.items():
        if field_id in owner:
            edges[owner[field_id]].update(groups)
    path: list[int | None] = []
    on_path: set[int | None] = set()
    done: set[int | None] = set()

    def visit(node: int | None) -> list[int | None]:
        path.append(node)
        on_path.add(node)
        for following in sorted(edges.get(node, ()), key=lambda n: -1 if n is None else n):
            if following in on_path:
                return [*path[path.index(following) :], following]
            if following not in done:
                found = visit(following)
                if found:
                    return found
        path.pop()
        on_path.discard(node)
        done.add(node)
        return []

    # Any loop through the group saved: the others were refused when they were saved.
    return visit(group_id)


def dispatch_triggered(now: dt.datetime | None = None) -> int:
    """One pass over the waiting triggers of every group: returns the dossiers opened.

    Crosses tenants by design. Each group is claimed with SKIP LOCKED in a transaction of its
    own, so two dispatchers never serve one group twice and its daily count holds.
    """
    now = now or timezone.now()
    with scopes_disabled():
        group_ids = sorted(
            set(
                TriggeredRequest.objects.filter(opened_at__isnull=True, changed_at__lte=now)
                .values_list("group_id", flat=True)
                .distinct()
            )
        )
    return sum(_dispatch_group(group_id, now) for group_id in group_ids)


def _dispatch_group(group_id: int, now: dt.datetime) -> int:
    with scopes_disabled():
        group = (
            UpdateGroup.objects.select_related("organization")
            .filter(pk=group_id, is_active=True)
            .first()
        )
    if group is None:
        return 0
    organization = group.organization
    today = now.astimezone(organization.tzinfo).date()
    opened = 0
    with scope(organization=organization), transaction.atomic():
        # Claimed in the transaction that writes: the lock holds until it commits.
        if (
            not UpdateGroup.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk=group_id, is_active=True)
            .exists()
        ):
            return 0
        room = group.trigger_daily_limit - (
            TriggeredRequest.objects.filter(group=group, opened_on=today).count()
        )
        fields = list(
            DataField.objects.active()
            .filter(group_membership__group=group)
            .order_by("position", "id")
        )
        if room <= 0 or not fields:
            return 0
        batch = _next_waiting(group, now, today, room)
        if not batch:
            return 0
        profile_ids = [trigger.profile_id for trigger in batch]
        open_dossiers(
            organization,
            profile_ids,
            fields,
            kind=Dossier.Kind.UPDATE,
            title=group.title,
            update_group_id=group.pk,
            period=today,
            # Out of cycle, under the same review and reminders as the group's other requests.
            policy=group.request_policy(),
        )
        if group.cadence in PER_PROFILE:
            _mark_asked(group, profile_ids, today, now)
        dossier_of = dict(
            Dossier.objects.filter(
                update_group=group, period=today, profile_id__in=profile_ids
            ).values_list("profile_id", "id")
        )
        for trigger in batch:
            trigger.opened_at, trigger.opened_on = now, today
            trigger.dossier_id = dossier_of.get(trigger.profile_id)
        TriggeredRequest.objects.bulk_update(batch, ["opened_at", "opened_on", "dossier"])
        opened = len(batch)
    if opened:
        logger.info("Group %s: %d triggered requests opened", group_id, opened)
    return opened


def _mark_asked(group: Any, profile_ids: list[int], today: dt.date, now: dt.datetime) -> None:
    """A rolling or tiered group's triggered request counts as asking: the profiles' next
    due day starts again from today, so the group's schedule does not ask them again soon."""
    ProfileSchedule.objects.filter(group=group, profile_id__in=profile_ids).filter(
        Q(asked_on__isnull=True) | Q(asked_on__lt=today)
    ).update(asked_on=today)
    rolling.refresh(group.organization_id, profile_ids=profile_ids, group_ids=[group.pk], now=now)


def _next_waiting(group: Any, now: dt.datetime, today: dt.date, room: int) -> list[Any]:
    """The oldest `room` waiting rows of the group still to send today. Rows covered
    meanwhile (a request of the group opened by its schedule) or no longer asked (the profile
    archived, or outside the group's audience) are dropped on the way: nothing to send, no
    place to hold. The work is bounded by what is sent, never by the backlog's size."""
    candidates = (
        TriggeredRequest.objects.filter(group=group, opened_at__isnull=True, changed_at__lte=now)
        # A profile whose request of today's period is done already waits for tomorrow: one
        # dossier per (group, period, profile).
        .exclude(
            Exists(
                Dossier.objects.filter(
                    update_group=group, period=today, profile_id=OuterRef("profile_id")
                ).exclude(status__in=Dossier.PENDING_STATUSES)
            )
        )
        .annotate(
            covered=Exists(
                Dossier.objects.running().filter(
                    update_group=group, profile_id=OuterRef("profile_id")
                )
            ),
            gone=Exists(
                Profile.objects.filter(pk=OuterRef("profile_id"), archived_at__isnull=False)
            )
            # A profile the group's audience leaves out is not asked, whatever changed.
            | ~Exists(group_audience(group).filter(pk=OuterRef("profile_id"))),
        )
        .order_by("changed_at", "id")
    )
    batch: list[Any] = []
    while len(batch) < room:
        page = list(candidates.exclude(pk__in=[t.pk for t in batch])[: room - len(batch)])
        dropped = [t.pk for t in page if t.covered or t.gone]
        batch += [t for t in page if not (t.covered or t.gone)]
        if not dropped:
            break
        TriggeredRequest.objects.filter(pk__in=dropped).delete()
    return batch


def backlog(group: Any) -> dict[str, Any]:
    """What the group page says of the triggered requests still waiting."""
    found = TriggeredRequest.objects.filter(group=group, opened_at__isnull=True).aggregate(
        count=Count("pk"), oldest=Min("changed_at")
    )
    count, oldest = found["count"], found["oldest"]
    limit = group.trigger_daily_limit
    return {
        "waiting": count,
        "oldest": oldest,
        # Days to serve them at the limit, today's included.
        "days": -(-count // limit) if count else 0,
    }


def reason(trigger: Any) -> str:
    """ "Requested because Address changed on 07/12/2026" (the organisation's local day)."""
    label = trigger.field.local_label if trigger.field is not None else _("a field")
    return _("Requested because %(field)s changed on %(date)s") % {
        "field": label,
        "date": display.day(trigger.changed_at),
    }


def dossier_reasons(sender: Any, dossier: Any, **kwargs: Any) -> list[str]:
    """Receiver of `dossiers.signals.dossier_notes`: why a triggered dossier was opened."""
    if dossier.update_group_id is None:
        return []
    return [
        reason(trigger)
        for trigger in TriggeredRequest.objects.filter(dossier=dossier).select_related("field")
    ]


def history_reasons(
    sender: Any, organization: Any, profile: Any, rows: Sequence[Any], **kwargs: Any
) -> dict[int, str]:
    """Receiver of `profiles.signals.history_notes`: {history row id: "Requested an update
    (group)"} for each change that opened (or waits to open) a triggered request."""
    changes = {(row.field_id, row.changed_at): row.pk for row in rows}
    if not changes:
        return {}
    found: dict[int, list[str]] = defaultdict(list)
    for trigger in (
        TriggeredRequest.objects.filter(
            profile=profile,
            field_id__in={field_id for field_id, _when in changes},
            changed_at__in={when for _field, when in changes},
        )
        .select_related("group")
        .order_by("group__title", "id")
    ):
        row_id = changes.get((trigger.field_id, trigger.changed_at))
        if row_id is None:
            continue
        if trigger.opened_on is not None:
            found[row_id].append(
                _("Requested an update: %(group)s, on %(date)s")
                % {"group": trigger.group.local_title, "date": display.day(trigger.opened_on)}
            )
        else:
            found[row_id].append(
                _("Update to request: %(group)s (waiting for the daily limit)")
                % {"group": trigger.group.local_title}
            )
    return {row_id: "; ".join(notes) for row_id, notes in found.items()}
