from __future__ import annotations

import uuid
import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Organization(models.Model):
    """The tenant: every row of client data belongs to exactly one."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", choices=time_zone_choices
    )
    default_language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="fr"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", _("Administrator")
        STAFF = "staff", _("Staff")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.STAFF)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class AuditEntry(models.Model):
    """A staff change to the organisation's setup or to an expiry date, shown to admins."""

    class Action(models.TextChoices):
        ORGANIZATION_UPDATED = "organization.updated", _("Organisation settings changed")
        FIELD_CREATED = "field.created", _("Data field created")
        FIELD_UPDATED = "field.updated", _("Data field changed")
        FIELD_ARCHIVED = "field.archived", _("Data field archived")
        FIELD_RESTORED = "field.restored", _("Data field restored")
        MEMBER_ADDED = "member.added", _("Member added")
        MEMBER_ROLE_CHANGED = "member.role", _("Member's role changed")
        MEMBER_REMOVED = "member.removed", _("Member removed")
        GROUP_CREATED = "group.created", _("Update group created")
        GROUP_UPDATED = "group.updated", _("Update group changed")
        GROUP_PAUSED = "group.paused", _("Update group paused")
        GROUP_RESUMED = "group.resumed", _("Update group resumed")
        GROUP_DELETED = "group.deleted", _("Update group deleted")
        GROUP_SENT_NOW = "group.sent_now", _("Update group sent now")
        EXPIRY_SET = "expiry.set", _("Expiry date set")
        EXPIRY_CLEARED = "expiry.cleared", _("Expiry date cleared")
        DOSSIER_SUBMITTED_ON_BEHALF = (
            "dossier.on_behalf",
            _("Dossier submitted on the client's behalf"),
        )
        DOSSIER_DRAFTED_ON_BEHALF = (
            "dossier.draft_on_behalf",
            _("Dossier draft saved on the client's behalf"),
        )
        DOSSIER_APPROVED = "dossier.approved", _("Dossier answers approved")
        DOSSIER_REJECTED = "dossier.rejected", _("Dossier answer sent back")

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_entries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    target = models.CharField(_("object"), max_length=300)
    details = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.target}"


def audit(request: object, action: str, target: object, **details: object) -> AuditEntry:
    """Records a staff change; `details` holds plain values (before/after, changed fields)."""
    user = request.user if request.user.is_authenticated else None  # type: ignore[attr-defined]
    return record_audit(request.organization, user, action, target, **details)  # type: ignore[attr-defined]


def record_audit(
    organization: Organization, user: object, action: str, target: object, **details: object
) -> AuditEntry:
    """Records an action outside a back-office request (a service, in its transaction)."""
    return AuditEntry.objects.create(
        organization=organization,
        user=user,
        action=action,
        target=str(target)[:300],
        details={key: str(value) if value is not None else None for key, value in details.items()},
    )
