"""Outgoing messages: one row per message, written in the transaction that causes it.

`Delivery` is the claim/retry pattern every outgoing table shares (e-mail now; webhook
deliveries get a table of their own on it): an idempotency key, a status, a count of
attempts and the moment of the next one. A claim moves `next_attempt_at` past a lease, so a
row claimed by a worker that dies comes due again once the lease is over.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


class Delivery(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        UNDELIVERABLE = "undeliverable", _("Undeliverable")
        CANCELLED = "cancelled", _("No longer needed")

    # Points "up" by name only: the outbox sits left of every app that sends through it.
    # Empty for the few messages of no organisation (a password reset).
    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # Two writes of one message (a task delivered twice, a sweep beside the first path)
    # make one row: the key is unique and inserts skip a conflict.
    key = models.CharField(max_length=200)
    status = models.CharField(
        _("status"), max_length=13, choices=Status.choices, default=Status.QUEUED
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        abstract = True
        indexes = [
            # The claim reads due rows only: a partial index stays the size of the queue.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="queued"),
                name="%(app_label)s_%(class)s_due",
            ),
            # The claim's fair share finds each organisation waiting, and its oldest due
            # row, a probe each (`outbox.claims.waiting`), rather than grouping every due
            # row: a backlog of 100,000 made each claim read all of them.
            models.Index(
                fields=["organization", "next_attempt_at"],
                condition=Q(status="queued"),
                name="%(app_label)s_%(class)s_due_org",
            ),
        ]
        constraints = [
            # A constraint rather than unique=True, which on PostgreSQL adds a second index
            # for LIKE that no query uses: each row is written three times (queued, claimed,
            # marked), each time into every index, as neither update can be HOT.
            models.UniqueConstraint(fields=["key"], name="%(app_label)s_%(class)s_unique_key"),
        ]


class Message(Delivery):
    """An e-mail. Rendered when it is sent, so a personal link is minted then, never stored."""

    kind = models.CharField(_("kind"), max_length=60)
    address = models.EmailField(_("address"), max_length=254)
    # For a message whose reader's language no other row knows (a password reset).
    language = models.CharField(max_length=8, blank=True)
    # What a message is about is the sending app's business: its own table links the
    # message to a dossier or an invitation (dossiers.DossierMessage,
    # organizations.InvitationMessage), so the outbox names no app but the tenant.
    # The id the e-mail service gave the message (empty over SMTP): its webhook events name it.
    # A database default too: the fan-out writes messages in raw INSERT … SELECT statements.
    provider_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    # The message whose content carries this one's (`outbox.registry.Carried`): its outcome
    # is written on this row in the statement that writes it on the carrier's, so a carried
    # row waits without being claimed again. No constraint: a carrier deleted leaves the id,
    # which the drain reads as "nothing to send" when the row comes due (`follow_carriers`).
    carried_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta(Delivery.Meta):
        verbose_name = _("outgoing message")
        verbose_name_plural = _("outgoing messages")
        indexes = [
            *Delivery.Meta.indexes,
            # Staff see refused messages where they look (a run's follow-up counts those of
            # the run's dossiers): an organisation's few refused rows, found without reading
            # its other messages, then joined to the sender's link table by primary key.
            models.Index(
                fields=["organization", "id"],
                condition=Q(status="undeliverable"),
                name="outbox_message_refused",
            ),
            # A webhook event finds its message by the service's id; rows sent over SMTP
            # have none and stay out of the index.
            models.Index(
                fields=["provider_id"],
                condition=~Q(provider_id=""),
                name="outbox_message_provider_id",
            ),
            # A carrier's mark finds the rows it carries; the others stay out of the index.
            models.Index(
                fields=["carried_by"],
                condition=Q(carried_by__isnull=False),
                name="outbox_message_carried_by",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.address} ({self.status})"

    @property
    def kind_display(self) -> str:
        from outbox import registry

        return registry.label(self.kind)


class DeliveryEvent(models.Model):
    """What the e-mail service reported about a sent message: delivered, bounced (hard or
    soft), complained, rejected. `key` is the service's id of the event (or a digest of it),
    unique, so that an event delivered twice is recorded once and acts once."""

    class Kind(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        SOFT_BOUNCE = "soft_bounce", _("Bounced for now (the service retries)")
        HARD_BOUNCE = "hard_bounce", _("Bounced: the address does not exist")
        COMPLAINT = "complaint", _("Reported as spam")
        REJECTED = "rejected", _("Refused by the service")

    organization = models.ForeignKey(
        "organizations.Organization",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events")
    key = models.CharField(max_length=200)
    service = models.CharField(max_length=30)
    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=500, blank=True)
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("delivery event")
        verbose_name_plural = _("delivery events")
        constraints = [
            models.UniqueConstraint(fields=["key"], name="outbox_deliveryevent_unique_key"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of message {self.message_id}"


class FailingAddress(models.Model):
    """An address of an organisation that bounced for good or complained: the outbox sends
    nothing more to it until staff change it or say to try again."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", _("The address does not exist (hard bounce)")
        COMPLAINED = "complained", _("The recipient reported an e-mail as spam")

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+"
    )
    # Lower case: one mailbox, however a profile spells it.
    address = models.EmailField(_("address"), max_length=254)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    detail = models.CharField(_("detail"), max_length=500, blank=True)
    since = models.DateTimeField(_("since"), default=timezone.now)
    # The message whose event made it fail, while it exists.
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("failing address")
        verbose_name_plural = _("failing addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "address"], name="outbox_failingaddress_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.reason})"

    @property
    def complained(self) -> bool:
        return self.reason == self.Reason.COMPLAINED
