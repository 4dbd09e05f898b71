from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from monitoring import overview, schedule
from monitoring.models import UpdateGroup
from monitoring.selectors import asked_by
from organizations.models import Organization
from profiles.models import DataField, Kind


class FieldTaken(Exception):
    """Another group took a chosen field between the action's check and the save (or the
    field is another organisation's)."""


@dataclass(frozen=True)
class Preview:
    dates: list[dt.date]
    recipients: int


def preview(
    organization: Organization, *, start: dt.date, count: int, unit: str, kind: str
) -> Preview:
    """The next six dates of a schedule and how many profiles each run asks, before saving."""
    group = UpdateGroup(
        organization=organization, start_date=start, interval_count=count, interval_unit=unit
    )
    group.schedule_from()
    # The dispatcher's own selection: every profile of the type that is not archived.
    recipients = asked_by(organization, kind).count()
    return Preview(dates=group.upcoming(6), recipients=recipients)


def field_problems(group: UpdateGroup, fields: Sequence[DataField]) -> list[str]:
    """Why `fields` cannot be the group's: held by another group, or of the other type."""
    problems = []
    for field in fields:
        # By id first: a field of this very group needs no look-up of its holder.
        holder = (
            field.update_group
            if field.update_group_id is not None and field.update_group_id != group.pk
            else None
        )
        if holder is not None:
            problems.append(
                _("“%(label)s” already belongs to the group “%(group)s”.")
                % {"label": field.local_label, "group": holder.local_title}
            )
        elif field.applies_to != group.applies_to:
            problems.append(
                _("“%(label)s” is not a field of this group's type (%(kind)s).")
                % {"label": field.local_label, "kind": Kind(group.applies_to).label}
            )
    return problems


def save_group(
    group: UpdateGroup, fields: Sequence[DataField], *, schedule_changed: bool
) -> UpdateGroup:
    """Saves the group with exactly `fields`; a new or re-timed group is scheduled afresh.

    Raises FieldTaken if another group holds one of the fields, whatever the caller checked.
    """
    with transaction.atomic():
        if group.pk is None or schedule_changed:
            group.schedule_from()
        group.save()
        chosen = [field.pk for field in fields]
        left = list(
            DataField.objects.filter(update_group=group)
            .exclude(pk__in=chosen)
            .values_list("pk", flat=True)
        )
        joining = list(
            DataField.objects.filter(pk__in=chosen)
            .exclude(update_group=group)
            .values_list("pk", flat=True)
        )
        DataField.objects.filter(pk__in=left).update(update_group=None)
        # Conditional: a field another group holds is not taken from it, even in a race.
        taken = (
            DataField.objects.filter(
                pk__in=chosen, organization=group.organization_id, applies_to=group.applies_to
            )
            .filter(Q(update_group__isnull=True) | Q(update_group=group))
            .update(update_group=group)
        )
        if taken != len(chosen):
            raise FieldTaken
        # Only the fields that joined or left: a group's other edits move no status.
        overview.refresh(group.organization_id, field_ids=[*left, *joining])
    return group


def set_active(group: UpdateGroup, active: bool) -> None:
    group.is_active = active
    if active:
        # Resuming starts at the next occurrence: the paused periods are not sent in a burst,
        # and a period that already ran (paused and resumed the same day) is not run again.
        group.schedule_from()
        while group.runs.filter(period=group.next_date).exists():
            group.next_index += 1
            group.next_run_at = schedule.due_at(group.next_date, group.organization.tzinfo)
    group.save(update_fields=["is_active", "next_index", "next_run_at"])


def reschedule_organization(organization: Organization, **kwargs: object) -> int:
    """The organisation's time zone changed: each group keeps its next period, whose moment
    (08:00 local) is computed again. Runs in the caller's transaction."""
    tz = organization.tzinfo
    groups = list(UpdateGroup.objects.filter(organization=organization))
    for group in groups:
        group.next_run_at = schedule.due_at(group.next_date, tz)
    UpdateGroup.objects.bulk_update(groups, ["next_run_at"])
    return len(groups)
