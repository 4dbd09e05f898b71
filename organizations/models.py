from __future__ import annotations

import functools
import hashlib
import uuid
import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager


def time_zone_choices() -> list[tuple[str, str]]:
    return list(_time_zones())


@functools.cache
def _time_zones() -> tuple[tuple[str, str], ...]:
    # available_timezones() walks the tz database on disk: once per process, not per view.
    return tuple((name, name) for name in sorted(zoneinfo.available_timezones()))


class Organization(models.Model):
    """The tenant: every row of client data belongs to exactly one."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("short name"), max_length=60, unique=True)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Paris", choices=time_zone_choices
    )
    date_style = models.CharField(
        _("date style"),
        max_length=4,
        choices=[
            ("dmy", _("31/01/2027 (day first)")),
            ("iso", _("2027-01-31 (ISO)")),
            ("mdy", _("01/31/2027 (month first)")),
        ],
        default="dmy",
    )
    default_language = models.CharField(
        _("default language"), max_length=8, choices=settings.LANGUAGES, default="fr"
    )
    require_two_factor = models.BooleanField(
        _("require a second factor"),
        default=False,
        help_text=_(
            "Members must log in with a code from an authenticator app as well as their password."
        ),
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

    class Notices(models.TextChoices):
        EACH = "each", _("Every submission")
        DIGEST = "digest", _("A daily digest")
        NONE = "none", _("None")

    # Empty: the role's default (a digest for administrators, nothing for staff).
    notices = models.CharField(
        _("e-mail notices"), max_length=10, choices=Notices.choices, blank=True
    )
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

    @property
    def effective_notices(self) -> str:
        if self.notices:
            return self.notices
        return self.Notices.DIGEST if self.is_admin else self.Notices.NONE


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(models.Model):
    """An e-mailed offer to join an organisation; a membership exists only once accepted.

    The person accepts while logged in to their own account, or creates one: an admin never
    attaches an existing account, and learns nothing about it.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="invitations"
    )
    email = models.EmailField(_("e-mail"), max_length=150)
    role = models.CharField(
        _("role"), max_length=10, choices=Membership.Role.choices, default=Membership.Role.STAFF
    )
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(organization="organization")

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email} @ {self.organization_id}"


class AuditEntry(models.Model):
    """A staff change to the organisation's setup or to an expiry date, shown to admins."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="audit_entries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A namespaced string declared by the app that logs it (organizations.audit).
    action = models.CharField(_("action"), max_length=80, db_index=True)
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

    @property
    def action_label(self) -> str:
        from organizations.audit import label_for

        return label_for(self.action)


def record_audit(
    organization: Organization, user: object, action: str, target: object, **details: object
) -> AuditEntry:
    """Records an action outside a back-office request (a service, a signal, a login)."""
    return AuditEntry.objects.create(
        organization=organization,
        user=user if getattr(user, "is_authenticated", False) else None,
        action=action,
        target=str(target)[:300],
        details={key: str(value) if value is not None else None for key, value in details.items()},
    )


def audit(request: object, action: str, target: object, **details: object) -> AuditEntry:
    """Records a change made by the user of a back-office request, in its organisation."""
    return record_audit(request.organization, request.user, action, target, **details)  # type: ignore[attr-defined]
