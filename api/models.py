"""Organisation API keys: shown once, stored as a hash, read-only or read-write, revocable."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from organizations.models import Organization
from outbox.models import Delivery

KEY_PREFIX = "bo_"
# A key's last use is written at most this often: one write per request would make every
# read of the API a write to the database.
LAST_USE_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    # The key carries 256 random bits: a fast hash is enough, nothing can be guessed from it.
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(models.Model):
    class Access(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(_("name"), max_length=100)
    access = models.CharField(
        _("access"), max_length=5, choices=Access.choices, default=Access.READ
    )
    # The first characters of the key, to tell keys apart; the rest is known only by its hash.
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.access == self.Access.WRITE

    @classmethod
    def issue(
        cls, organization: Organization, *, name: str, access: str, created_by: Any = None
    ) -> tuple[ApiKey, str]:
        """Creates a key and returns it with the key in clear, the only time it is known."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        api_key = cls.objects.create(
            organization=organization,
            name=name,
            access=access,
            prefix=key[:10],
            key_hash=hash_key(key),
            created_by=created_by,
        )
        return api_key, key

    def revoke(self, user: Any) -> bool:
        """Revokes the key; False if it was revoked already (by someone else, say)."""
        now = timezone.now()
        changed = ApiKey.objects.filter(pk=self.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_by=user
        )
        if changed:
            self.revoked_at, self.revoked_by = now, user
        return bool(changed)

    def touch(self) -> None:
        """Records a use; a conditional update, so concurrent requests write once a minute."""
        now = timezone.now()
        if self.last_used_at is not None and self.last_used_at >= now - LAST_USE_RESOLUTION:
            return
        ApiKey.objects.filter(pk=self.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USE_RESOLUTION)
        ).update(last_used_at=now)


def webhook_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookEndpoint(models.Model):
    """An address of the organisation's that receives its events, signed with its secret."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(_("address"), max_length=500)
    events = models.JSONField(_("events"), default=list)
    # Kept in clear: every delivery is signed with it. Shown to administrators only.
    secret = models.CharField(max_length=80, default=webhook_secret)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(Delivery):
    """One event for one endpoint: the same body, and the same delivery id, at every attempt."""

    uuid = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(_("event"), max_length=40)
    body = models.TextField()
    # The person the body is about (its data's "profile"), by reference: a person's export
    # and erasure find their deliveries here, never by searching the bodies.
    profile_uuid = models.UUIDField(null=True, blank=True, db_index=True)
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)

    class Meta(Delivery.Meta):
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint_id} ({self.status})"
