"""The writes of the monitoring app, one function per verb (DESIGN.md, "One action per verb").

Each action validates, writes in one transaction, records its audit entry through the actor
and leaves the notifications to the machinery it calls (`services`, `dispatch`, the outbox).
The group form, the API's groups, the "⋯" pop-up, the run pages and `dispatch_due` parse
their input and call these; none of them records an audit entry itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from dossiers import actions as dossier_actions
from dossiers.messages import next_reminder_hour, remind_now, reminded_this_hour
from monitoring import audit as audit_actions
from monitoring import followup, overview, rolling, services
from monitoring.dispatch import dispatch_group_now
from monitoring.models import Cadence, UpdateGroup, UpdateRun
from organizations.actors import Actor
from organizations.models import Organization
from profiles.fieldtypes import out_of_range
from profiles.models import DataField, FieldValue, Profile
from profiles.services import set_expiry_date

# The columns whose change moves a group's next run (the form's "frequency" sets the interval;
# a group made calendar again starts from its next occurrence, not a stale past one).
_TIMING = ("start_date", "interval_count", "interval_unit", "cadence")

FIELD_TAKEN = gettext_lazy("A chosen field was just added to another group. Please check again.")
EMPTY_VALUE = gettext_lazy(
    "This field is empty: there is nothing to update, and no expiry date to set."
)


def save_group(
    group: UpdateGroup,
    *,
    actor: Actor,
    fields: Sequence[DataField] | None = None,
    triggers: Sequence[DataField] | None = None,
) -> UpdateGroup:
    """Creates or changes `group` (its attributes as the door set them) with exactly `fields`
    and trigger fields `triggers` (None: those it has). A new or re-timed group is scheduled
    afresh; a paused group made active resumes as the toggle resumes it, at its next
    occurrence. A change of its policy (review, reminders) reaches its running dossiers,
    which carry it.

    Raises ValidationError on `fields`: a field held by another group, of the other type or
    of another organisation — checked here, and again by a conditional write, for a race;
    on `audience` (conditions on fields the type does not have, values not of the field's
    type or choices) and on `spread_days` (a window longer than the period); on
    `trigger_fields`: a field of the other type or organisation, one of the group's own (a
    loop), or triggers that would close a loop between groups — checked with the
    organisation's groups locked, so two saves at once cannot close one between them; on
    `trigger_daily_limit`: a limit out of range.
    """
    chosen = list(group.fields.all()) if fields is None and group.pk else list(fields or [])
    chosen_triggers = (
        list(group.trigger_fields.all()) if triggers is None and group.pk else list(triggers or [])
    )
    problems = services.schedule_problems(group)
    field_problems = services.field_problems(group, chosen)
    if field_problems:
        problems["fields"] = field_problems
    limit_problem = services.limit_problem(group.trigger_daily_limit)
    if limit_problem:
        problems["trigger_daily_limit"] = [limit_problem]
    problems.update(rolling.cadence_problems(group))
    if problems:
        raise ValidationError(problems)
    if group.cadence != Cadence.TIERED:
        group.tier_field, group.tiers = None, []
    if group.cadence != Cadence.CALENDAR:
        # Each profile is asked on its own day: there is no date to spread from.
        group.spread_days = 1
    created = group.pk is None
    with transaction.atomic():
        loops = services.trigger_problems(group, chosen, chosen_triggers)
        if loops:
            raise ValidationError({"trigger_fields": loops})
        stored = (
            None
            if created
            else UpdateGroup.objects.filter(pk=group.pk)
            .values(*_TIMING, *UpdateGroup.POLICY, "is_active", "audience")
            .first()
        )
        retimed = stored is not None and any(stored[n] != getattr(group, n) for n in _TIMING)
        try:
            services.save_group(group, chosen, schedule_changed=retimed)
        except services.FieldTaken:
            if created:
                # Rolled back: the door shows the form of a group still to create.
                group.pk = None
                group._state.adding = True
            raise ValidationError({"fields": [FIELD_TAKEN]}) from None
        services.set_triggers(group, chosen_triggers)
        if stored is not None and not stored["is_active"] and group.is_active:
            services.set_active(group, True)
        if stored is not None and any(stored[n] != getattr(group, n) for n in UpdateGroup.POLICY):
            dossier_actions.set_policy(
                organization=group.organization,
                update_group_id=group.pk,
                policy=group.request_policy(),
                actor=actor,
            )
        if stored is not None and stored["audience"] != group.audience:
            # Profiles entered or left whom the group asks: their cells come or go.
            overview.refresh(group.organization_id, field_ids=[field.pk for field in chosen])
        rolling.refresh(group.organization_id, group_ids=[group.pk])
        actor.audit(
            group.organization,
            audit_actions.GROUP_CREATED if created else audit_actions.GROUP_UPDATED,
            group,
            fields=", ".join(field.label for field in chosen),
            frequency=group.frequency_display,
            start=group.start_date,
            triggers=", ".join(field.label for field in chosen_triggers),
            daily_limit=group.trigger_daily_limit,
            **services.audience_details(group),
        )
    return group


def delete_group(group: UpdateGroup, *, actor: Actor) -> str:
    """Deletes the group: its fields are free again, its open dossiers run their course.
    Returns its title, which the audit entry keeps."""
    title = group.title
    with transaction.atomic():
        group.delete()
        actor.audit(group.organization, audit_actions.GROUP_DELETED, title)
    return title


def set_group_active(group: UpdateGroup, *, actor: Actor, active: bool) -> UpdateGroup:
    """Pauses or resumes the group; resuming starts at its next occurrence, with no burst of
    the paused periods. Asking for the state it is in changes and records nothing."""
    if group.is_active == active:
        return group
    with transaction.atomic():
        services.set_active(group, active)
        actor.audit(
            group.organization,
            audit_actions.GROUP_RESUMED if active else audit_actions.GROUP_PAUSED,
            group,
        )
    return group


def send_now(group: UpdateGroup, *, actor: Actor, fan_out: bool = True) -> UpdateRun | None:
    """Sends the group's current period now, through the dispatcher's own steps (idempotent:
    a second call opens nothing twice). None if the group is paused: nothing is sent.

    With `fan_out`, the run's dossiers open in a task after the commit; without, the caller
    opens them (`dispatch.open_run`)."""
    with transaction.atomic():
        run_id = dispatch_group_now(group.pk, fan_out=fan_out)
        if run_id is None:
            return None
        run = UpdateRun.objects.get(pk=run_id)
        actor.audit(group.organization, audit_actions.GROUP_SENT_NOW, group, period=run.period)
    return run


@dataclass(frozen=True)
class Reminded:
    # The run's dossiers still open to their clients.
    dossiers: int
    # False when this hour's reminders had been queued already: nothing new went out.
    sent: bool
    # Of the dossiers, those e-mail cannot reach (their address fails): not reminded.
    unreachable: int = 0
    # Of `dossiers`, those written to now, and those already reminded this hour.
    fresh: int = 0
    already: int = 0
    # From when those already reminded can be reminded again.
    again_at: dt.datetime | None = None


@dataclass(frozen=True)
class ReminderPlan:
    """What "Remind all outstanding" would do now, said before it is done."""

    fresh: int
    already: int
    again_at: dt.datetime


def plan_reminders(run: UpdateRun) -> ReminderPlan:
    """How many clients "Remind all" would write to now, and how many it would skip since
    they were reminded this hour (and from when they can be again)."""
    open_ids = followup.remindable(run.group, run.period)
    already = len(reminded_this_hour(open_ids))
    return ReminderPlan(
        fresh=len(open_ids) - already, already=already, again_at=next_reminder_hour()
    )


def remind_run(run: UpdateRun, *, actor: Actor) -> Reminded:
    """ "Remind all outstanding": one reminder to each client of the run who has not
    answered, at most once an hour whatever the number of clicks."""
    group = run.group
    # One moment for the reminders' keys and the run's mark, so both name the same hour.
    now = timezone.now()
    with transaction.atomic():
        open_ids = followup.remindable(group, run.period)
        unreachable = followup.unreachable(group, run.period)
        already = len(reminded_this_hour(open_ids, now))
        sent = remind_now(open_ids, now)
        if open_ids:
            # Never moved back: a click of the hour before committing after one of this hour
            # would hide this hour's reminders from the run's page.
            marked = UpdateRun.objects.filter(
                Q(reminded_at__isnull=True) | Q(reminded_at__lt=now), pk=run.pk
            ).update(reminded_at=now)
            if marked:
                run.reminded_at = now
        if sent or not open_ids:
            actor.audit(
                group.organization,
                audit_actions.RUN_REMINDED,
                group,
                period=run.period,
                dossiers=len(open_ids),
            )
    return Reminded(
        dossiers=len(open_ids),
        sent=sent,
        unreachable=unreachable,
        fresh=len(open_ids) - already,
        already=already,
        again_at=next_reminder_hour(now),
    )


def export_run(run: UpdateRun, *, actor: Actor, status: str = "", query: str = "") -> QuerySet[Any]:
    """The outstanding list of a run for an export, recorded as read (see
    `followup.outstanding` for its rows)."""
    rows = followup.outstanding(run.group, run.period, status=status, query=query)
    actor.audit(run.organization, audit_actions.RUN_EXPORTED, run.group, period=run.period)
    return rows


def export_overview(
    organization: Organization,
    *,
    actor: Actor,
    filters: overview.Filters,
    today: dt.date,
    described: str,
    words: overview.ExportWords,
) -> Iterator[str | bytes]:
    """The compliance overview's filtered cells as CSV lines in `words`, recorded as read;
    `described` is the filters as the page's address spells them, which the log shows."""
    lines = overview.export_csv(organization.pk, filters, today, words)
    actor.audit(
        organization,
        audit_actions.OVERVIEW_EXPORTED,
        gettext("Compliance overview"),
        filters=described,
    )
    return lines


@dataclass(frozen=True)
class Expiry:
    before: dt.date | None
    after: dt.date | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def set_expiry(value: FieldValue, *, actor: Actor, expires_on: dt.date) -> Expiry:
    """Sets the expiry date of a filled value by hand (the "⋯" pop-up). A new date must lie
    in the range every date input accepts; the date on file may be kept as it is."""
    if expires_on != value.expires_on:
        refusal = out_of_range(expires_on)
        if refusal is not None:
            raise ValidationError({"expires_on": refusal})
    return _write_expiry(value, actor, expires_on)


def clear_expiry(value: FieldValue, *, actor: Actor) -> Expiry:
    """Removes the expiry date of a filled value (the pop-up's "Clear the expiry date")."""
    return _write_expiry(value, actor, None)


def _write_expiry(value: FieldValue, actor: Actor, expires_on: dt.date | None) -> Expiry:
    if value.value is None:
        raise ValidationError({"expires_on": [EMPTY_VALUE]})
    change = Expiry(before=value.expires_on, after=expires_on)
    if not change.changed:
        return change
    with transaction.atomic():
        set_expiry_date(value, expires_on)
        actor.audit(
            value.organization,
            audit_actions.EXPIRY_SET if expires_on else audit_actions.EXPIRY_CLEARED,
            f"{value.profile.display_name} — {value.field.label}",
            about=[value.profile],
            before=change.before,
            after=change.after,
        )
    return change


def record_tier_moves(
    organization_id: int,
    moved: Sequence[rolling.Moved],
    *,
    actor: Actor,
    profiles: dict[int, Profile] | None = None,
) -> None:
    """A tier change that moved profiles' next updates is said in each profile's record: an
    audit entry about it, by whoever changed the tier (`monitoring.receivers` calls it from
    the write that changed the tier, in its transaction). The entries of a whole batch are
    written at once; `profiles` are the batch's, by id, when the caller holds them."""
    if not moved:
        return
    organization = Organization.objects.get(pk=organization_id)
    known = profiles or {}
    missing = {m.profile_id for m in moved} - known.keys()
    if missing:
        known = {**known, **Profile.objects.in_bulk(missing)}
    entries: list[tuple[object, list[object], dict[str, object]]] = []
    for m in moved:
        profile = known[m.profile_id]
        entries.append(
            (
                profile,
                [profile],
                {
                    "group": m.group.title,
                    "tier_before": m.tier_before,
                    "tier_after": m.tier_after,
                    "before": m.due_before,
                    "after": m.due_after,
                },
            )
        )
    actor.audit_many(organization, audit_actions.SCHEDULE_MOVED, entries)
