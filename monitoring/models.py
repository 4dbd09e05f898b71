from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_scopes import ScopedManager

from dossiers.models import RequestPolicy
from monitoring import schedule
from organizations.models import Organization
from profiles.models import Kind, Source
from profiles.texts import Translatable


class Unit(models.TextChoices):
    DAYS = "days", _("days")
    WEEKS = "weeks", _("weeks")
    MONTHS = "months", _("months")
    YEARS = "years", _("years")


class Cadence(models.TextChoices):
    # Every profile on the group's occurrences.
    CALENDAR = "calendar", _("calendar")
    # Each profile one interval after its last fresh evidence for the group's fields.
    ROLLING = "rolling", _("rolling")
    # As rolling, the interval read from the tier of one choice field of the profile.
    TIERED = "tiered", _("tiered")


# Cadences kept per profile, in `ProfileSchedule` rows.
PER_PROFILE = (Cadence.ROLLING, Cadence.TIERED)

DEFAULT_REMIND_AFTER = (3, 10)
DEFAULT_TRIGGER_DAILY_LIMIT = 500
MAX_TRIGGER_DAILY_LIMIT = 100_000
DEFAULT_REMIND_BEFORE = (2,)


def default_after() -> list[int]:
    return list(DEFAULT_REMIND_AFTER)


def default_before() -> list[int]:
    return list(DEFAULT_REMIND_BEFORE)


class UpdateGroup(Translatable, models.Model):
    """Fields whose values a group of profiles is asked to refresh on a schedule."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    title = models.CharField(_("title"), max_length=150)
    message = models.TextField(
        _("message to the clients"),
        blank=True,
        max_length=2000,
        help_text=_("Shown on the client's page and in the e-mails of this group's requests."),
    )
    # Title and message in the organisation's other languages (profiles.texts).
    translations = models.JSONField(_("translations"), default=dict, blank=True)
    applies_to = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    start_date = models.DateField(_("start of the period"))
    interval_count = models.PositiveIntegerField(_("every"), default=1)
    interval_unit = models.CharField(
        _("unit"), max_length=10, choices=Unit.choices, default=Unit.MONTHS
    )
    is_active = models.BooleanField(_("active"), default=True)
    cadence = models.CharField(
        _("cadence"),
        max_length=10,
        choices=Cadence.choices,
        default=Cadence.CALENDAR,
        db_default=Cadence.CALENDAR,
    )
    # Tiered: the choice field whose value picks the interval, and the interval of each
    # value, [{"value": "High", "months": 12}, ...]; a profile without a tier (no value, or
    # one no tier names) is asked at the group's own interval.
    tier_field = models.ForeignKey(
        "profiles.DataField",
        verbose_name=_("tier field"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    tiers = models.JSONField(_("tiers"), default=list, blank=True, db_default=Value("[]"))
    review_required = models.BooleanField(
        _("Staff review before the profile is updated"),
        default=False,
        help_text=_(
            "Answers wait in Dossiers > To review until a member approves them; "
            "otherwise they are written to the profile on submission."
        ),
    )
    # The reminder ladder, in days: after the invitation went out, and before the dossier
    # closes. Only the latest step due is sent, so a late pass never sends a burst.
    remind_after = models.JSONField(_("remind after sending (days)"), default=default_after)
    remind_before = models.JSONField(_("remind before closing (days)"), default=default_before)
    extend_expiry = models.BooleanField(
        _("Move expiry dates forward on a fresh answer"),
        default=False,
        help_text=_(
            "A fresh answer or confirmation moves a value's expiry date one period ahead; "
            "otherwise it clears it."
        ),
    )
    # Whom the group asks among the profiles of its type: every one (empty), or those meeting
    # every condition (profiles.conditions). JSON rather than rows: read and written whole
    # with the group by its form and the API, checked in one place (`save_group`), and a
    # condition whose field goes away narrows to nobody instead of silently widening.
    audience = models.JSONField(_("audience"), default=list, blank=True, db_default=[])
    # Each occurrence's requests spread over this many working days (1: all on its date),
    # each profile on a stable day of the window (monitoring.spread).
    spread_days = models.PositiveSmallIntegerField(
        _("spread over (working days)"), default=1, db_default=1
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # The group's fields, through monitoring's own table (a field names no group).
    fields = models.ManyToManyField(
        "profiles.DataField", through="GroupField", related_name="+", blank=True
    )
    # Fields outside the group whose change makes a profile due for it at once (a new
    # address, a raised risk): through monitoring's own table, like the group's fields.
    trigger_fields = models.ManyToManyField(
        "profiles.DataField", through="GroupTrigger", related_name="+", blank=True
    )
    # Triggered requests opened a day at most; the rest wait, oldest first (an import that
    # raises 100,000 risks does not send 100,000 requests in one morning).
    trigger_daily_limit = models.PositiveIntegerField(
        _("triggered requests a day"),
        default=DEFAULT_TRIGGER_DAILY_LIMIT,
        db_default=DEFAULT_TRIGGER_DAILY_LIMIT,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TRIGGER_DAILY_LIMIT)],
        help_text=_(
            "At most this many requests a day opened by a change of a trigger field; "
            "the others wait for the next days, oldest first."
        ),
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("update group")
        verbose_name_plural = _("update groups")
        ordering = ["title", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(interval_count__gte=1) & Q(interval_count__lte=1000),
                name="interval_count_in_range",
            ),
            models.CheckConstraint(
                condition=Q(trigger_daily_limit__gte=1)
                & Q(trigger_daily_limit__lte=MAX_TRIGGER_DAILY_LIMIT),
                name="trigger_daily_limit_in_range",
            ),
            models.CheckConstraint(
                condition=Q(spread_days__gte=1) & Q(spread_days__lte=250),
                name="spread_days_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    # What the dispatcher's row depends on: a save naming none of them leaves it alone.
    DUE_COLUMNS = frozenset({"next_index", "next_run_at", "is_active", "cadence"})

    def save(self, *args: Any, **kwargs: Any) -> None:
        named = kwargs.get("update_fields")
        if named is not None:
            named = set(named)
            kwargs["update_fields"] = named - {"next_index", "next_run_at"}
        super().save(*args, **kwargs)
        if named is None or named & self.DUE_COLUMNS:
            due = self._due()
            due.group = self
            due.dispatched = self.is_active and self.cadence == Cadence.CALENDAR
            if due._state.adding or getattr(self, "_due_moved", False):
                due.save(force_insert=due._state.adding)
            else:
                # The group's calendar was read, not moved: writing it back could undo a
                # dispatcher's pass that moved the row meanwhile (it locks only this row).
                GroupDue.objects.filter(pk=due.pk).update(dispatched=due.dispatched)
            self._due_moved = False

    # Where the group stands in its calendar lives in its `GroupDue` row, which the
    # dispatcher moves; the group reads and writes it through these, and `save` keeps it.
    def _due(self) -> GroupDue:
        try:
            return self.due
        except GroupDue.DoesNotExist:
            due = GroupDue(next_index=0)
            self.due = due
            return due

    @property
    def next_index(self) -> int:
        """Index of the next occurrence to run (occurrence k = start + k * interval)."""
        return self._due().next_index

    @next_index.setter
    def next_index(self, value: int) -> None:
        self._due().next_index = value
        self._due_moved = True

    @property
    def next_run_at(self) -> dt.datetime:
        """When that occurrence comes due, in UTC."""
        return self._due().next_run_at

    @next_run_at.setter
    def next_run_at(self, value: dt.datetime) -> None:
        self._due().next_run_at = value
        self._due_moved = True

    @property
    def local_title(self) -> str:
        return self.translated("title")

    @property
    def local_message(self) -> str:
        return self.translated("message")

    # The columns of RequestPolicy: a change of one is handed to the group's running dossiers.
    POLICY = ("review_required", "remind_after", "remind_before")

    def request_policy(self) -> RequestPolicy:
        """What the group decides for its dossiers, given to them when they open and again
        when it changes (`monitoring.actions.save_group`): they never read the group."""
        return RequestPolicy(
            review_required=self.review_required,
            remind_after=tuple(self.remind_after or ()),
            remind_before=tuple(self.remind_before or ()),
        )

    def occurrence(self, k: int) -> dt.date:
        return schedule.occurrence(self.start_date, self.interval_count, self.interval_unit, k)

    @property
    def next_date(self) -> dt.date:
        return self.occurrence(self.next_index)

    def upcoming(self, n: int = schedule.LISTED) -> list[dt.date]:
        dates = []
        for i in range(n):
            try:
                dates.append(self.occurrence(self.next_index + i))
            except (OverflowError, ValueError):  # past year 9999: a group saved before the bound
                break
        return dates

    def schedule_from(self, now: dt.datetime | None = None) -> None:
        """Points the group at its first occurrence not yet past: no burst of old periods."""
        now = now or timezone.now()
        tz = self.organization.tzinfo
        today = now.astimezone(tz).date()
        k = schedule.first_index_on_or_after(
            self.start_date, self.interval_count, self.interval_unit, today
        )
        self.next_index = k
        self.next_run_at = schedule.due_at(self.occurrence(k), tz)

    def expiry_after_evidence(self, today: dt.date) -> dt.date | None:
        """A value's expiry date once it has been freshly evidenced today."""
        if not self.extend_expiry:
            return None
        return schedule.occurrence(today, self.interval_count, self.interval_unit, 1)

    @property
    def frequency_display(self) -> str:
        return frequency_in_words(self.interval_count, self.interval_unit)


def frequency_in_words(count: int, unit: str) -> str:
    if unit == Unit.MONTHS and count == 1:
        return str(_("every month"))
    if unit == Unit.YEARS and count == 1:
        return str(_("every year"))
    if unit == Unit.WEEKS and count == 1:
        return str(_("every week"))
    if unit == Unit.DAYS and count == 1:
        return str(_("every day"))
    words: dict[str, str] = {
        Unit.DAYS: ngettext("every %(n)d day", "every %(n)d days", count),
        Unit.WEEKS: ngettext("every %(n)d week", "every %(n)d weeks", count),
        Unit.MONTHS: ngettext("every %(n)d month", "every %(n)d months", count),
        Unit.YEARS: ngettext("every %(n)d year", "every %(n)d years", count),
    }
    return words[unit] % {"n": count}


class GroupDue(models.Model):
    """A group's next occurrence and its moment: what the dispatcher claims and moves.

    A narrow row of its own, so that a pass rewrites a few dozen bytes and two index entries
    per group, not the group's wide row and each of its indexes (docs/PERFORMANCE.md).
    """

    group = models.OneToOneField(
        UpdateGroup, primary_key=True, on_delete=models.CASCADE, related_name="due"
    )
    next_index = models.PositiveIntegerField(default=0)
    # In UTC: the dispatcher's only filter, among the rows it may claim.
    next_run_at = models.DateTimeField(_("next update"))
    # The group is active and on a calendar (`UpdateGroup.save` keeps it): a paused group's
    # past moment stays out of the index the pass reads.
    dispatched = models.BooleanField(default=True)

    class Meta:
        indexes = [
            models.Index(fields=["next_run_at"], name="group_due_at", condition=Q(dispatched=True)),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}: {self.next_run_at}"


class UpdateRun(models.Model):
    """One period of one group: recorded once, whatever retries or dispatchers do."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    # No index of its own: one_run_per_group_period starts with it, and each index is one
    # more write for every run the dispatcher records.
    group = models.ForeignKey(
        UpdateGroup, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    period = models.DateField(_("period"))
    index = models.PositiveIntegerField()
    skipped = models.PositiveIntegerField(
        default=0, help_text=_("Missed periods folded into this run after downtime.")
    )
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dossiers_opened = models.PositiveIntegerField(default=0)
    # The working days its requests are spread over, as the group said when it was recorded
    # (the database's default: the dispatcher's one statement records unspread runs only).
    spread_days = models.PositiveSmallIntegerField(default=1, db_default=1)
    # The latest "Remind all" that wrote to the run's clients, set in its transaction: a page
    # of the run asks the outbox for this hour's reminders only after one this hour, rather
    # than reading every message of the run's dossiers to find none (`followup.reminder_progress`).
    reminded_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("update run")
        verbose_name_plural = _("update runs")
        ordering = ["-period"]
        constraints = [
            models.UniqueConstraint(fields=["group", "period"], name="one_run_per_group_period"),
        ]
        indexes = [
            # The sweep of unfinished runs reads these only: the index stays tiny.
            models.Index(
                fields=["created_at"],
                condition=models.Q(finished_at__isnull=True),
                name="unfinished_runs",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.group_id} @ {self.period}"


class GroupField(models.Model):
    """A data field of a group: a field belongs to at most one group, since the field is the
    primary key. The organisation and type are the field's, copied so that on PostgreSQL two
    composite foreign keys keep the field in a group of its own organisation and type
    (migration 0009); on SQLite `monitoring.actions.save_group` holds that rule alone.
    """

    field = models.OneToOneField(
        "profiles.DataField",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="group_membership",
    )
    group = models.ForeignKey(UpdateGroup, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    applies_to = models.CharField(max_length=10, choices=Kind.choices)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("field of a group")
        verbose_name_plural = _("fields of groups")

    def __str__(self) -> str:
        return f"{self.field_id} in {self.group_id}"


class GroupTrigger(models.Model):
    """A field whose change makes a profile due for the group at once (a trigger event).

    Never one of the group's own fields (its own answers would ask again, for ever), and the
    triggers between groups form no cycle: `monitoring.actions.save_group` refuses both.
    """

    group = models.ForeignKey(UpdateGroup, on_delete=models.CASCADE, related_name="triggers")
    field = models.ForeignKey(
        "profiles.DataField", on_delete=models.CASCADE, related_name="group_triggers"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("trigger field of a group")
        verbose_name_plural = _("trigger fields of groups")
        constraints = [
            models.UniqueConstraint(fields=["group", "field"], name="one_trigger_per_group_field"),
        ]
        indexes = [
            # What every write of values reads: the groups its fields trigger.
            models.Index(fields=["organization", "field"], name="triggers_by_field"),
        ]

    def __str__(self) -> str:
        return f"{self.field_id} triggers {self.group_id}"


class TriggeredRequest(models.Model):
    """A profile due for a group because one of the group's trigger fields changed.

    Waiting (`opened_at` null) until the dispatcher opens its dossier, within the group's
    daily limit, oldest change first; then kept as the reason of that dossier ("requested
    because Address changed on …"). One waiting row per (group, profile): further changes
    before it opens ask nothing more, so a week without dispatcher is one request, not a storm.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    group = models.ForeignKey(
        UpdateGroup, on_delete=models.CASCADE, related_name="triggered", db_index=False
    )
    profile = models.ForeignKey(
        "profiles.Profile", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The trigger field that changed, through which door, and when (the order of the backlog).
    field = models.ForeignKey(
        "profiles.DataField", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices)
    changed_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True)
    # The local day it was opened on: its dossier's period, and the day its limit counts.
    opened_on = models.DateField(null=True)
    dossier = models.ForeignKey(
        "dossiers.Dossier", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("triggered request")
        verbose_name_plural = _("triggered requests")
        constraints = [
            models.UniqueConstraint(
                fields=["group", "profile"],
                condition=Q(opened_at__isnull=True),
                name="one_waiting_trigger_per_group_profile",
            ),
        ]
        indexes = [
            # The backlog in the order it is served.
            models.Index(
                fields=["group", "changed_at", "id"],
                condition=Q(opened_at__isnull=True),
                name="triggers_waiting",
            ),
            # The day's count against the limit; the reason of a dossier or a history row.
            models.Index(fields=["group", "opened_on"], name="triggers_opened"),
            models.Index(fields=["profile", "field"], name="triggers_by_profile"),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id} due for {self.group_id} since {self.changed_at}"


def group_of(field: object) -> UpdateGroup | None:
    """The group of a field loaded with `group_membership__group`, or None."""
    membership = getattr(field, "group_membership", None)
    return membership.group if membership is not None else None


class ComplianceCell(models.Model):
    """One row per active profile by monitored field of a group that asks the profile (its
    audience): what its overview status is read from.

    Maintained by `monitoring.overview.refresh` from every write that moves a status (values,
    requests, profiles, fields), so that the overview reads narrow indexed rows instead of
    joining every request of the organisation on each view. What depends on the clock (an
    expiry date passing, a request lapsing) is stored as dates and compared when read.
    """

    # Few indexes, since every refresh writes them: the organisation's and the profile's
    # are the leading columns of the composite ones below.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    profile = models.ForeignKey(
        "profiles.Profile", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    field = models.ForeignKey("profiles.DataField", on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(UpdateGroup, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The company a contact belongs to, or the company itself: the overview's company filter.
    company_key = models.BigIntegerField(null=True)
    has_value = models.BooleanField(default=False)
    expires_on = models.DateField(null=True)
    # An open request asking for it, and when it lapses (null: awaiting staff, no end).
    requested_dossier = models.UUIDField(null=True)
    requested_until = models.DateTimeField(null=True)
    # The latest request closed unanswered and nothing fresh came since.
    overdue_dossier = models.UUIDField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["profile", "field"], name="one_cell_per_value"),
        ]
        indexes = [
            models.Index(fields=["organization", "group"], name="cells_by_group"),
            models.Index(fields=["organization", "company_key"], name="cells_by_company"),
        ]

    def __str__(self) -> str:
        return f"{self.profile_id}/{self.field_id}"


class OverviewState(models.Model):
    """A counter per organisation bumped after each refresh of its cells commits: the key
    under which the overview's counts are cached, so that a write is seen at once."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.version}"


class DispatchPass(models.Model):
    """The latest pass of the scheduled dispatcher: when it began, how long it took and how
    many runs it recorded. One row, rewritten by each pass, read by the operators' metrics
    (a stopped beat shows as a pass that grows old)."""

    started_at = models.DateTimeField()
    duration = models.FloatField(help_text="seconds")
    runs = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.started_at}: {self.runs} runs in {self.duration:.3f} s"


class ProfileSchedule(models.Model):
    """When one profile is next due for a rolling or tiered group, and why.

    Kept by `monitoring.rolling.refresh` from the writes that move it (evidence, a change of
    tier, a profile archived or added, the group's cadence saved), in their transaction, and
    checked nightly against a fresh computation. `joined_at` and `asked_on` are facts only
    this row holds (dossiers are purged), the rest is recomputed from the profile's values.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # No index of its own: one_schedule_per_group_profile starts with it.
    group = models.ForeignKey(
        UpdateGroup, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    profile = models.ForeignKey("profiles.Profile", on_delete=models.CASCADE, related_name="+")
    # When the profile entered the group: the start when it was never evidenced.
    joined_at = models.DateTimeField()
    # The latest fresh evidence for any of the group's fields.
    evidenced_at = models.DateTimeField(null=True)
    # The local day of the latest request the dispatcher opened (its period).
    asked_on = models.DateField(null=True)
    # The tier it is on (tiered groups): the choice field's value, "" for none.
    tier = models.CharField(max_length=200, blank=True, default="", db_default="")
    # The local due day (the period of its next request) and its moment in UTC.
    due_on = models.DateField()
    next_due = models.DateTimeField()

    objects = ScopedManager(organization="organization")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "profile"], name="one_schedule_per_group_profile"
            ),
        ]
        indexes = [
            # The dispatcher's filter in its claim's order, so that a batch stops at its limit
            # instead of sorting every row due.
            models.Index(fields=["next_due", "id"], name="schedule_due"),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}/{self.profile_id} @ {self.due_on}"
