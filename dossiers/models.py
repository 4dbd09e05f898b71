from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from organizations.models import Organization
from profiles import fieldtypes
from profiles.models import DataField, Document, Profile


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _through(through: str, name: str) -> str:
    return f"{through}__{name}" if through else name


def answerable_q(now: dt.datetime, through: str = "") -> Q:
    """The dossier (or the one reached `through` a relation) the client may still answer at
    `now`: open, and its link not yet expired. `Dossier.is_open` is the same rule on a
    loaded row."""
    return Q(
        **{
            _through(through, "status__in"): Dossier.OPEN_STATUSES,
            _through(through, "expires_at__gt"): now,
        }
    )


# The reminder ladder of a request no group defines (a classic request, an expired value's),
# in days: after the invitation went out, and before the dossier closes.
DEFAULT_REMIND_AFTER = (3, 10)
DEFAULT_REMIND_BEFORE = (2,)


def default_remind_after() -> list[int]:
    return list(DEFAULT_REMIND_AFTER)


def default_remind_before() -> list[int]:
    return list(DEFAULT_REMIND_BEFORE)


@dataclass(frozen=True, kw_only=True)
class RequestPolicy:
    """What the app that opens a dossier decides for it, handed over as data when it opens
    the dossier and again when it changes its mind (`dossiers.actions.set_policy`): whether
    staff review the answers before the profile changes, and the reminder ladder in days.
    A dossier reads its own columns, never the group that asked for it."""

    review_required: bool = False
    remind_after: tuple[int, ...] = DEFAULT_REMIND_AFTER
    remind_before: tuple[int, ...] = DEFAULT_REMIND_BEFORE

    def columns(self) -> dict[str, Any]:
        return {
            "review_required": self.review_required,
            "remind_after": list(self.remind_after),
            "remind_before": list(self.remind_before),
        }


class DossierQuerySet(models.QuerySet["Dossier"]):
    """The filters every list of dossiers shares: the back office, the exports and the API."""

    def running(self) -> DossierQuerySet:
        """The request still runs: the client may answer, or staff have to decide. Not a
        run's "outstanding" list (`monitoring.followup.OUTSTANDING`), which is what the client
        still owes: it counts the expired and leaves out those awaiting review."""
        return self.filter(status__in=Dossier.PENDING_STATUSES)

    def answerable(self, now: dt.datetime) -> DossierQuerySet:
        return self.filter(answerable_q(now))

    def lapsed(self, now: dt.datetime) -> DossierQuerySet:
        """Open, but their link expired: the expiry pass marks them expired."""
        return self.filter(status__in=Dossier.OPEN_STATUSES, expires_at__lte=now)

    def to_review(self) -> DossierQuerySet:
        return self.filter(status=Dossier.Status.TO_REVIEW)

    def of_kind(self, kind: str) -> DossierQuerySet:
        return self.filter(kind=kind)

    def search(self, query: str) -> DossierQuerySet:
        """The client's names or the dossier's title contain the text."""
        return self.filter(
            Q(profile__last_name__icontains=query)
            | Q(profile__first_name__icontains=query)
            | Q(profile__name__icontains=query)
            | Q(title__icontains=query)
        )

    def newest_first(self) -> DossierQuerySet:
        return self.order_by("-created_at", "-id")


class Dossier(models.Model):
    """A request to one contact or company for the values of some fields."""

    class Kind(models.TextChoices):
        UPDATE = "update", _("Update")
        CLASSIC = "classic", _("Classic")

    class Status(models.TextChoices):
        # The stored values predate the review workflow; the labels are what people read.
        OPEN = "open", _("Sent")
        OPENED = "opened", _("Opened")
        IN_PROGRESS = "in_progress", _("Draft")
        SUBMITTED = "submitted", _("Received")
        TO_REVIEW = "to_review", _("To review")
        CHANGES_REQUESTED = "changes_requested", _("Changes requested")
        APPROVED = "approved", _("Approved")
        EXPIRED = "expired", _("Expired")
        SUPERSEDED = "superseded", _("Closed")

    # The client may still answer.
    OPEN_STATUSES = (Status.OPEN, Status.OPENED, Status.IN_PROGRESS, Status.CHANGES_REQUESTED)
    # The request is still running: answered or not, nothing must ask for the same again.
    PENDING_STATUSES = (*OPEN_STATUSES, Status.TO_REVIEW)
    # Waiting for staff or for the client's corrections: never purged.
    AWAITING_DECISION = (Status.TO_REVIEW, Status.CHANGES_REQUESTED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="dossiers")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.OPEN
    )
    title = models.CharField(_("title"), max_length=200)
    message = models.TextField(_("message to the client"), blank=True)
    # Set for update dossiers opened by a group: one dossier per (group, period, profile).
    update_group = models.ForeignKey(
        "monitoring.UpdateGroup",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="dossiers",
    )
    period = models.DateField(_("period"), null=True, blank=True)
    superseded_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    first_opened_at = models.DateTimeField(_("first opened at"), null=True, blank=True)
    # When staff approved it, or it was written back without review: the purge counts from
    # here, so a dossier decided late still stays a month for the record.
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # Who submitted last: the recipient, and the staff member on their behalf.
    submitted_by = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The address the link of the last submission was e-mailed to: a member who set that
    # address cannot decide on the answers (dossiers.review), and the page says where they
    # came from. Empty for a page staff filled in, or a link sent before it was recorded.
    submitted_via = models.EmailField(
        _("submitted through a link sent to"), blank=True, default="", db_default=""
    )
    # The policy of the request (RequestPolicy), copied from its group when it was opened
    # and on each change of the group. Database defaults for the raw inserts (bench seeding).
    review_required = models.BooleanField(
        _("Staff review before the profile is updated"), default=False, db_default=False
    )
    remind_after = models.JSONField(
        _("remind after sending (days)"),
        default=default_remind_after,
        db_default=list(DEFAULT_REMIND_AFTER),
    )
    remind_before = models.JSONField(
        _("remind before closing (days)"),
        default=default_remind_before,
        db_default=list(DEFAULT_REMIND_BEFORE),
    )

    objects = ScopedManager(
        organization="organization", _manager_class=models.Manager.from_queryset(DossierQuerySet)
    )

    class Meta:
        verbose_name = _("dossier")
        verbose_name_plural = _("dossiers")
        constraints = [
            models.UniqueConstraint(
                fields=["update_group", "period", "profile"],
                condition=Q(update_group__isnull=False),
                name="one_dossier_per_group_period_profile",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "status", "-created_at"]),
            # The dossier list's order: without it each page sorts the organisation's dossiers.
            models.Index(fields=["organization", "-created_at", "-id"], name="dossier_list"),
            models.Index(fields=["created_at"], name="dossier_created_at"),
            models.Index(fields=["profile", "status"]),
            # A run's counts by status (monitoring.followup.outcomes) from the index alone:
            # at 100,000 dossiers a run, reading the rows themselves was most of its page.
            models.Index(
                fields=["update_group", "period", "status"],
                include=["organization", "first_opened_at"],
                condition=Q(update_group__isnull=False),
                name="dossier_run_status",
            ),
            # The review queue, oldest answer first, read in its order (dossiers.views).
            models.Index(
                fields=["organization", "submitted_at", "id"],
                condition=Q(status="to_review"),
                name="dossier_review_queue",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} — {self.profile}"

    def audit_subjects(self) -> list[tuple[str, str]]:
        """An audit entry about a dossier concerns it and its profile."""
        return [("dossier", str(self.uuid)), *self.profile.audit_subjects()]

    @property
    def local_title(self) -> str:
        """The title in the reader's language: a group's request follows its group's texts."""
        group = self.update_group
        return group.local_title if group is not None else self.title

    @property
    def local_message(self) -> str:
        group = self.update_group
        return group.local_message if group is not None else self.message

    @property
    def policy(self) -> RequestPolicy:
        return RequestPolicy(
            review_required=self.review_required,
            remind_after=tuple(self.remind_after or ()),
            remind_before=tuple(self.remind_before or ()),
        )

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES and self.expires_at > timezone.now()

    @property
    def needs_fresh_answers(self) -> bool:
        """An update dossier is answered with something new for every item."""
        return self.kind == self.Kind.UPDATE

    @property
    def is_expired(self) -> bool:
        return self.status == self.Status.EXPIRED or (
            self.status in self.OPEN_STATUSES and self.expires_at <= timezone.now()
        )


class ItemReview(models.TextChoices):
    PENDING = "pending", _("To review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class DossierItem(models.Model):
    """One requested field: its value when asked, the client's answer, and any upload."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="items")
    field = models.ForeignKey(DataField, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    initial_value = models.JSONField(null=True)
    initial_document = models.ForeignKey(
        Document, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    answer = models.JSONField(null=True)
    answered = models.BooleanField(default=False)
    # The client's explicit "still correct" for the value as asked.
    confirmed = models.BooleanField(default=False)
    # The client's explicit "this no longer applies — remove it": the only way an answer
    # removes a value on file (an empty answer is "not answered", never a removal).
    remove_requested = models.BooleanField(default=False, db_default=False)
    # Who answered, set on submission: the recipient, and the staff member on their behalf.
    answered_by = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The address of the link the answer came through (see Dossier.submitted_via).
    answered_via = models.EmailField(
        _("answered through a link sent to"), blank=True, default="", db_default=""
    )
    review = models.CharField(_("review"), max_length=10, choices=ItemReview.choices, blank=True)
    rejection_reason = models.TextField(_("reason"), blank=True)
    # The answer staff sent back: the client's next answer must differ from it.
    rejected_answer = models.JSONField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # A client's upload not yet written back: the purge deletes it with the dossier.
    upload = models.FileField(max_length=200, blank=True)
    upload_name = models.CharField(max_length=200, blank=True)
    upload_content_type = models.CharField(max_length=100, blank=True)
    upload_size = models.PositiveBigIntegerField(null=True)
    # Set on write-back: the upload became this profile document and is no longer the item's.
    written_document = models.ForeignKey(
        Document, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["dossier", "field"], name="one_item_per_field"),
        ]

    def __str__(self) -> str:
        return f"{self.dossier_id}: {self.field_id}"

    @property
    def value_changed(self) -> bool:
        return self.answered and not fieldtypes.same(self.field, self.answer, self.initial_value)

    @property
    def can_be_removed(self) -> bool:
        """ "This no longer applies" needs something on file to remove, and a field that may
        be empty: a required one is answered, never removed."""
        if self.field.required:
            return False
        if self.field.is_document:
            return self.initial_document_id is not None
        return self.initial_value is not None

    @property
    def can_be_confirmed(self) -> bool:
        """ "Still correct" needs a value to vouch for: an empty one must be answered."""
        return not self.field.is_document and self.initial_value is not None

    @property
    def has_fresh_answer(self) -> bool:
        """A new upload for a document; a changed value or a confirmation for anything else.

        After a rejection, the answer sent back does not count again.
        """
        if self.field.is_document:
            return bool(self.upload) or self.written_document_id is not None or self.removing
        if self.review == ItemReview.REJECTED and self.answer == self.rejected_answer:
            return False
        if self.removing:
            return True
        # An empty answer is no answer: only the explicit removal above empties a value.
        changed = self.value_changed and self.answer is not None
        return changed or (self.confirmed and self.can_be_confirmed)

    @property
    def removing(self) -> bool:
        return self.remove_requested and self.can_be_removed


class AccessToken(models.Model):
    """A personal link to a dossier. Only the hash is stored; the link is in the e-mail."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="tokens")
    recipient = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    # Set when staff opened the client's page themselves: only they can use this link, and
    # what they submit is recorded as theirs, on the recipient's behalf.
    issued_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Set when a newer invitation went to the same person: the page says the link was
    # replaced rather than that it never existed.
    replaced_at = models.DateTimeField(null=True, blank=True)
    # The address the e-mail carrying this link went to (empty for staff's own link): the
    # answers given through it say so, and whoever set that address cannot approve them.
    sent_to = models.EmailField(blank=True, default="", db_default="")
    # Set for the link of a recipient's day (`DailyRequest`): the page lists every request
    # of that day, not only `dossier`, the first of them.
    daily_request = models.ForeignKey(
        "DailyRequest", null=True, blank=True, on_delete=models.CASCADE, related_name="tokens"
    )

    objects = ScopedManager(organization="organization")

    def __str__(self) -> str:
        return f"token for {self.recipient_id} on {self.dossier_id}"

    @classmethod
    def issue(
        cls,
        dossier: Dossier,
        recipient: Profile,
        *,
        issued_to: Any = None,
        sent_to: str = "",
        daily_request: DailyRequest | None = None,
    ) -> str:
        """Creates a token and returns it in clear, the only time it is known."""
        token = secrets.token_urlsafe(32)
        cls.objects.create(
            organization_id=dossier.organization_id,
            dossier=dossier,
            recipient=recipient,
            token_hash=hash_token(token),
            issued_to=issued_to,
            sent_to=sent_to,
            daily_request=daily_request,
        )
        return token

    @classmethod
    def issue_many(
        cls,
        pairs: Sequence[tuple[Dossier, Profile, str]],
        daily_requests: Sequence[int | None] | None = None,
    ) -> list[str]:
        """One token per (dossier, recipient, address it is sent to), in one INSERT; returned
        in clear, in order. `daily_requests`, when given, names each one's day (`DailyRequest`)."""
        tokens = [secrets.token_urlsafe(32) for _pair in pairs]
        days = daily_requests if daily_requests is not None else [None] * len(pairs)
        AccessToken.objects.bulk_create(
            AccessToken(
                organization_id=dossier.organization_id,
                dossier_id=dossier.pk,
                recipient_id=recipient.pk,
                token_hash=hash_token(token),
                sent_to=address,
                daily_request_id=day,
            )
            for (dossier, recipient, address), token, day in zip(pairs, tokens, days, strict=True)
        )
        return tokens


class Intervention(models.Model):
    """A member or an API key having a hand in where a dossier's link goes: sending it again,
    or changing a person's e-mail, company or representation. Four eyes (dossiers.review):
    they cannot decide on answers that came through such a link."""

    class Kind(models.TextChoices):
        LINK_SENT = "link_sent", _("sent the link")
        CONTACT_CHANGED = "contact_changed", _("changed the contact data")

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The dossier whose link was sent, for LINK_SENT.
    dossier = models.ForeignKey(
        Dossier, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The person changed, and the address they had after the change, for CONTACT_CHANGED.
    person = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    email = models.EmailField(blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The key's id (api.ApiKey): the api app is to this one's right, and keys are never
    # deleted, only revoked, so the id keeps naming the same key.
    api_key_id = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organization="organization")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False) | Q(api_key_id__isnull=False),
                name="intervention_has_an_actor",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.user_id or self.api_key_id}"


class ItemRejection(models.Model):
    """An answer sent back to the client, kept: the reason, who decided and when, and the
    answer as the client gave it, its file included, so that staff still see what was
    refused once the client answers again, and an undo can put it back as it was.

    The file stays the dossier's: the purge and the erasure delete it with the dossier's
    other uploads.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    item = models.ForeignKey(DossierItem, on_delete=models.CASCADE, related_name="rejections")
    reason = models.TextField(_("reason"))
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rejected_at = models.DateTimeField(_("sent back at"))
    # The item's review state before, as the undo restores it.
    answer = models.JSONField(null=True)
    previous_rejected_answer = models.JSONField(null=True)
    confirmed = models.BooleanField(default=False)
    remove_requested = models.BooleanField(default=False)
    upload = models.FileField(max_length=200, blank=True)
    upload_name = models.CharField(max_length=200, blank=True)
    upload_content_type = models.CharField(max_length=100, blank=True)
    upload_size = models.PositiveBigIntegerField(null=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        ordering = ["-rejected_at", "-id"]
        verbose_name = _("answer sent back")
        verbose_name_plural = _("answers sent back")

    def __str__(self) -> str:
        return f"{self.item_id} @ {self.rejected_at}"


class DossierRecord(models.Model):
    """What stays of a purged dossier, for audit: who was asked, when, what came of it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    profile = models.ForeignKey(
        Profile, null=True, on_delete=models.SET_NULL, related_name="dossier_records"
    )
    dossier_uuid = models.UUIDField(unique=True)
    kind = models.CharField(max_length=10, choices=Dossier.Kind.choices)
    title = models.CharField(max_length=200)
    # Who was asked, by reference: an erased person leaves the record with their profile,
    # and the record shows the others as they are now.
    recipient_profiles = models.ManyToManyField(Profile, related_name="+", blank=True)
    # Records purged before the references: names as they were, "First Last <e-mail>, …",
    # from which an erasure removes the person's own exactly.
    recipients = models.TextField(blank=True)
    fields = models.JSONField(default=list)
    outcome = models.CharField(max_length=20, choices=Dossier.Status.choices)
    # The run it belonged to, so that a run's follow-up still answers after the purge.
    update_group = models.ForeignKey(
        "monitoring.UpdateGroup", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    period = models.DateField(null=True)
    first_opened_at = models.DateTimeField(null=True)
    # E-mails the mail server refused for good: the messages go with the dossier.
    undeliverable = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True)
    purged_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("dossier record")
        verbose_name_plural = _("dossier records")
        indexes = [models.Index(fields=["update_group", "period", "outcome"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.outcome})"

    @property
    def recipients_shown(self) -> str:
        named = [
            f"{person.display_name} <{person.email}>" if person.email else person.display_name
            for person in self.recipient_profiles.all()
        ]
        return ", ".join(sorted(named) + ([self.recipients] if self.recipients else []))


def recipient_label(first_name: str, last_name: str, email: str) -> str:
    """How a recipient was named in a record before the references."""
    return f"{first_name} {last_name} <{email}>".strip()


class DossierMessage(models.Model):
    """An outgoing message about a dossier, and the recipient it is for.

    The outbox knows messages only: this table, the dossiers app's, says what each one is
    about. A link goes with its message; a dossier or a person goes with their messages,
    which the purge and the erasure delete first (`delete_messages`), since the message row
    itself names no dossier to cascade from.
    """

    message = models.OneToOneField(
        "outbox.Message",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="dossier_link",
    )
    dossier = models.ForeignKey(Dossier, on_delete=models.CASCADE, related_name="message_links")
    profile = models.ForeignKey(
        Profile, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        verbose_name = _("message of a dossier")
        verbose_name_plural = _("messages of dossiers")

    def __str__(self) -> str:
        return f"{self.message_id} of {self.dossier_id}"


class DailyRequest(models.Model):
    """The update requests that fell due for one recipient on one local day, sent as one
    e-mail with one link (`dossiers.daily`). Each dossier stays its own: its review,
    follow-up and write-back do not know it was asked beside others.

    Formed when the first invitation of the day is sent (`dossiers.messages`), of the
    recipient's update dossiers of that day whose invitations wait; a request opened after
    that goes out on its own. One per (recipient, day): two workers forming it at once make
    one, and the other's invitations travel with it.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE)
    recipient = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    dossiers = models.ManyToManyField(Dossier, related_name="daily_requests")
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("request of the day")
        verbose_name_plural = _("requests of the day")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "day"], name="one_daily_request_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_id} on {self.day}"


class DailyRequestMessage(models.Model):
    """The e-mail of a recipient's day (its invitation, a reminder): the per-dossier
    invitations and reminders it carries take its outcome (`outbox.registry.Carried`)."""

    message = models.OneToOneField(
        "outbox.Message", primary_key=True, on_delete=models.CASCADE, related_name="daily_link"
    )
    daily_request = models.ForeignKey(
        DailyRequest, on_delete=models.CASCADE, related_name="message_links"
    )

    class Meta:
        verbose_name = _("message of a request of the day")
        verbose_name_plural = _("messages of requests of the day")

    def __str__(self) -> str:
        return f"{self.message_id} of {self.daily_request_id}"


class DossierState(models.Model):
    """A version per organisation, renewed after each committed write that changes how many
    dossiers it has or their statuses: the key under which their counts are cached
    (`dossiers.versions`), so that a write is seen at once."""

    organization = models.OneToOneField(
        Organization, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.version}"
