from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from monitoring import overview, schedule, spread, workload
from monitoring.models import (
    MAX_TRIGGER_DAILY_LIMIT,
    GroupDue,
    GroupField,
    GroupTrigger,
    UpdateGroup,
)
from monitoring.selectors import audience, audience_fields
from monitoring.triggers import cycle_through
from organizations.models import Organization
from profiles.conditions import clean_conditions
from profiles.models import DataField, Kind


class FieldPolicy:
    """What the fields' groups decide for a dossier (registered with `dossiers.fieldpolicy`,
    since dossiers reads no group)."""

    def review_required(self, fields: Sequence[DataField]) -> bool:
        return GroupField._base_manager.filter(
            field__in=[field.pk for field in fields], group__review_required=True
        ).exists()

    def expiry_after_evidence(
        self, fields: Sequence[DataField]
    ) -> Callable[[DataField], dt.date | None]:
        """Cleared, or a period ahead when the field's group moves expiry dates forward."""
        groups = {
            membership.field_id: membership.group
            for membership in GroupField._base_manager.filter(
                field__in=[field.pk for field in fields]
            ).select_related("group")
        }
        today = timezone.localdate()

        def rule(field: DataField) -> dt.date | None:
            group = groups.get(field.pk)
            return group.expiry_after_evidence(today) if group is not None else None

        return rule


class FieldTaken(Exception):
    """Another group took a chosen field between the action's check and the save (or the
    field is another organisation's)."""


@dataclass(frozen=True)
class Preview:
    dates: list[dt.date]
    recipients: int
    # The next occurrence's requests by day: one day, or its spread window.
    per_day: list[tuple[dt.date, int]]


def preview(
    organization: Organization,
    *,
    start: dt.date,
    count: int,
    unit: str,
    kind: str,
    conditions: list[dict[str, Any]] | None = None,
    spread_days: int = 1,
) -> Preview:
    """The next six dates of a schedule, how many profiles each run asks and how many a day,
    before saving (`conditions` and `spread_days` clean)."""
    group = UpdateGroup(
        organization=organization, start_date=start, interval_count=count, interval_unit=unit
    )
    group.schedule_from()
    # The dispatcher's own selection (`group_audience`), for a group not saved yet.
    counts = workload.counts_by_day(audience(organization, kind, conditions or []), spread_days)
    dates = group.upcoming(6)
    return Preview(
        dates=dates,
        recipients=sum(counts),
        per_day=workload.occurrence_load(dates[0], counts) if dates else [],
    )


def spread_refusal(days: Any, count: int, unit: str) -> str | None:
    """Why a spread of `days` working days does not fit the period, or None."""
    longest = spread.longest(count, unit)
    if isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= longest:
        return None
    return _(
        "Spread the requests over 1 to %(n)s working days: a longer window would run past "
        "the next update date."
    ) % {"n": longest}


def audience_details(group: UpdateGroup) -> dict[str, Any]:
    """The audience and spread as an audit entry keeps them: fields by label, which the
    entry still reads after a field is renamed or archived. Nothing for a default group."""
    details: dict[str, Any] = {}
    if group.audience:
        labels = {
            str(uuid): label
            for uuid, label in DataField.objects.filter(
                organization=group.organization_id,
                uuid__in=[condition["field"] for condition in group.audience],
            ).values_list("uuid", "label")
        }
        # Details are kept as text: the conditions as JSON, read back by the entry's words.
        details["audience"] = json.dumps(
            [
                {**condition, "field": labels.get(condition["field"], condition["field"])}
                for condition in group.audience
            ],
            ensure_ascii=False,
        )
    if group.spread_days > 1:
        details["spread_days"] = group.spread_days
    return details


def schedule_problems(group: UpdateGroup) -> dict[str, list[str]]:
    """Why the group's audience or spread cannot be saved; cleans the audience in place."""
    problems: dict[str, list[str]] = {}
    try:
        group.audience = clean_conditions(
            group.audience, audience_fields(group.organization_id, group.applies_to)
        )
    except ValidationError as error:
        problems["audience"] = list(error.messages)
    refusal = spread_refusal(group.spread_days, group.interval_count, group.interval_unit)
    if refusal:
        problems["spread_days"] = [refusal]
    return problems


def field_problems(group: UpdateGroup, fields: Sequence[DataField]) -> list[str]:
    """Why `fields` cannot be the group's: held by another group, or of the other type."""
    problems = []
    holders = {
        membership.field_id: membership.group
        for membership in GroupField.objects.filter(field__in=[field.pk for field in fields])
        .exclude(group_id=group.pk)
        .select_related("group")
    }
    for field in fields:
        if field.pk in holders:
            problems.append(
                _("“%(label)s” already belongs to the group “%(group)s”.")
                % {"label": field.local_label, "group": holders[field.pk].local_title}
            )
        elif field.applies_to != group.applies_to:
            problems.append(
                _("“%(label)s” is not a field of this group's type (%(kind)s).")
                % {"label": field.local_label, "kind": Kind(group.applies_to).label}
            )
    return problems


def limit_problem(limit: int | None) -> str | None:
    """Why a daily limit of triggered requests is refused, or None."""
    if limit is None or not 1 <= limit <= MAX_TRIGGER_DAILY_LIMIT:
        return _("Enter a number from 1 to %(max)s.") % {
            "max": number_format(MAX_TRIGGER_DAILY_LIMIT, force_grouping=True)
        }
    return None


def trigger_problems(
    group: UpdateGroup, fields: Sequence[DataField], triggers: Sequence[DataField]
) -> list[str]:
    """Why `triggers` cannot trigger `group` with `fields` as its own: a field of the other
    type or organisation, one of its own (its answers would ask again, for ever), or a loop
    through other groups. Call it in the saving transaction: with triggers in play it locks
    the organisation's groups, so that two saves at once cannot close a loop between them."""
    problems = []
    own = {field.pk for field in fields}
    for field in triggers:
        if field.organization_id != group.organization_id or field.applies_to != group.applies_to:
            problems.append(
                _("“%(label)s” is not a field of this group's type (%(kind)s).")
                % {"label": field.local_label, "kind": Kind(group.applies_to).label}
            )
        elif field.pk in own:
            problems.append(
                _(
                    "“%(label)s” is one of this group's own fields: its answers would "
                    "trigger the group again. Choose fields of other groups or of none."
                )
                % {"label": field.local_label}
            )
    if problems:
        return problems
    organization_id = group.organization_id
    if not triggers and not GroupTrigger.objects.filter(organization_id=organization_id).exists():
        return []
    # Serialises the saves of one organisation's groups while the loop is looked for.
    list(
        UpdateGroup.objects.select_for_update()
        .filter(organization_id=organization_id)
        .values_list("pk", flat=True)
    )
    loop = cycle_through(
        group.pk, [field.pk for field in fields], [field.pk for field in triggers], organization_id
    )
    if loop:
        others = UpdateGroup.objects.in_bulk([pk for pk in loop if pk is not None])
        chain = " → ".join(
            group.local_title if pk is None or pk == group.pk else others[pk].local_title
            for pk in loop
        )
        problems.append(
            _(
                "These triggers would form a loop between groups (%(chain)s): each group's "
                "answers would ask the next one again, for ever."
            )
            % {"chain": chain}
        )
    return problems


def set_triggers(group: UpdateGroup, triggers: Sequence[DataField]) -> None:
    """The group's trigger fields become exactly `triggers`."""
    chosen = {field.pk for field in triggers}
    held = set(GroupTrigger.objects.filter(group=group).values_list("field_id", flat=True))
    GroupTrigger.objects.filter(group=group, field_id__in=held - chosen).delete()
    GroupTrigger.objects.bulk_create(
        GroupTrigger(group=group, field_id=pk, organization_id=group.organization_id)
        for pk in sorted(chosen - held)
    )


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
        chosen = {field.pk for field in fields}
        held = set(GroupField.objects.filter(group=group).values_list("field_id", flat=True))
        left, joining = sorted(held - chosen), sorted(chosen - held)
        GroupField.objects.filter(group=group, field_id__in=left).delete()
        # Only this organisation's fields of the group's type are the group's.
        if DataField.objects.filter(
            pk__in=chosen, organization=group.organization_id, applies_to=group.applies_to
        ).count() != len(chosen):
            raise FieldTaken
        try:
            # The field is the table's primary key: a field another group holds is not taken
            # from it, even in a race (the second insert waits for the first and fails).
            with transaction.atomic():
                GroupField.objects.bulk_create(
                    GroupField(
                        field_id=pk,
                        group=group,
                        organization_id=group.organization_id,
                        applies_to=group.applies_to,
                    )
                    for pk in joining
                )
        except IntegrityError:
            raise FieldTaken from None
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
    # Saving `is_active` writes the group's schedule row too (`UpdateGroup.save`).
    group.save(update_fields=["is_active"])


def reschedule_organization(organization: Organization, **kwargs: object) -> int:
    """The organisation's time zone changed: each group keeps its next period, whose moment
    (08:00 local) is computed again. Runs in the caller's transaction."""
    tz = organization.tzinfo
    groups = list(UpdateGroup.objects.filter(organization=organization).select_related("due"))
    for group in groups:
        group.next_run_at = schedule.due_at(group.next_date, tz)
    GroupDue.objects.bulk_update([group.due for group in groups], ["next_run_at"])
    return len(groups)
