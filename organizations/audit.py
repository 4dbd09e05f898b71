"""Audit actions: namespaced strings, each declared by the app that logs it.

An app lists its actions in its own `audit.py` (`profiles.field.created`, …), so a new action
needs no change here and no migration; the audit log page reads the labels from this registry.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class AuditAction(str):
    """The stored string, carrying its label for people."""

    label: Promise | str

    def __new__(cls, name: str, label: Promise | str) -> AuditAction:
        if name.count(".") < 2:
            raise ValueError(f"{name!r}: an audit action is app.object.verb")
        action = super().__new__(cls, name)
        action.label = label
        return action

    @property
    def app(self) -> str:
        return self.split(".", 1)[0]


_REGISTRY: dict[str, AuditAction] = {}


def action(name: str, label: Promise | str) -> AuditAction:
    """Declares an action; two apps cannot declare the same name."""
    declared = AuditAction(name, label)
    if name in _REGISTRY and _REGISTRY[name].label != label:
        raise ValueError(f"The audit action {name!r} is declared twice.")
    _REGISTRY[name] = declared
    return declared


def discover() -> None:
    autodiscover_modules("audit")


def known_actions() -> list[AuditAction]:
    return sorted(_REGISTRY.values())


def label_for(name: str) -> str:
    found = _REGISTRY.get(name)
    # An action no app declares any more still shows, under its stored name.
    return str(found.label) if found is not None else name


# The actions of this app.

SETTINGS_UPDATED = action("organizations.settings.updated", _("Organisation settings changed"))
MEMBER_INVITED = action("organizations.member.invited", _("Member invited"))
INVITATION_CANCELLED = action(
    "organizations.member.invitation_cancelled", _("Invitation cancelled")
)
MEMBER_ADDED = action("organizations.member.added", _("Member added"))
MEMBER_ROLE_CHANGED = action("organizations.member.role_changed", _("Member's role changed"))
MEMBER_REMOVED = action("organizations.member.removed", _("Member removed"))
LOGIN = action("organizations.auth.login", _("Logged in"))
LOGIN_FAILED = action("organizations.auth.login_failed", _("Failed login"))
PASSWORD_RESET_REQUESTED = action("organizations.auth.password_reset", _("New password asked for"))
PASSWORD_CHANGED = action("organizations.auth.password_changed", _("Password changed"))
TWO_FACTOR_ENABLED = action("organizations.auth.two_factor_enabled", _("Second factor turned on"))
TWO_FACTOR_DISABLED = action(
    "organizations.auth.two_factor_disabled", _("Second factor turned off")
)
AUDIT_EXPORTED = action("organizations.audit.exported", _("Audit log exported"))
