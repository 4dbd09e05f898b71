"""Audit actions: namespaced strings, each declared by the app that logs it.

An app lists its actions in its own `audit.py` (`profiles.field.created`, …), so a new action
needs no change here and no migration; the audit log page reads the labels from this registry.

An action may say how its details read (`describe`): a function of the details returning a
sentence, or a format string with named placeholders (`_("Role: %(role)s")`). Without one,
or when an entry's details do not fit it (recorded before they changed shape), the details
read "Key: value", with the keys named for people. Neither ever fails on what JSON holds.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.utils.functional import Promise
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from organizations.display import day, moment, number

Describe = Callable[[Mapping[str, Any]], str]


class AuditAction(str):
    """The stored string, carrying its label for people and how its details read."""

    label: Promise | str
    describe: Describe | Promise | str | None

    def __new__(
        cls, name: str, label: Promise | str, describe: Describe | Promise | str | None = None
    ) -> AuditAction:
        if name.count(".") < 2:
            raise ValueError(f"{name!r}: an audit action is app.object.verb")
        action = super().__new__(cls, name)
        action.label = label
        action.describe = describe
        return action

    @property
    def app(self) -> str:
        return self.split(".", 1)[0]


_REGISTRY: dict[str, AuditAction] = {}


def action(
    name: str, label: Promise | str, describe: Describe | Promise | str | None = None
) -> AuditAction:
    """Declares an action; two apps cannot declare the same name."""
    declared = AuditAction(name, label, describe)
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


# How details read.

# The actor's own key: the log names the actor in its own column.
_ACTOR_KEYS = frozenset({"api_key"})

# Keys that several apps' details share, named for people; others are humanised.
KEY_LABELS: dict[str, Promise] = {
    "address": _("Address"),
    "after": _("After"),
    "before": _("Before"),
    "by": _("By"),
    "changed": _("Changed"),
    "dossiers": _("Dossiers"),
    "email": _("E-mail"),
    "events": _("Events"),
    "field": _("Field"),
    "fields": _("Fields"),
    "files": _("Files"),
    "filters": _("Filters"),
    "frequency": _("Frequency"),
    "item": _("Item"),
    "items": _("Items"),
    "kind": _("Type"),
    "links": _("Links"),
    "period": _("Period"),
    "profile": _("Profile"),
    "reason": _("Reason"),
    "recipient": _("Recipient"),
    "role": _("Role"),
    "start": _("Start"),
    "type": _("Type"),
    "value": _("Value"),
}

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def pair(key: str, value: str) -> str:
    """ "Key: value", with the reader's typography (a space before the colon in French)."""
    return gettext("%(key)s: %(value)s") % {"key": key, "value": value}


def joined(parts: Iterable[str]) -> str:
    """The non-empty parts of details, with the reader's separator ("a ; b" in French)."""
    return pgettext("between the parts of an entry's details", "; ").join(p for p in parts if p)


def relabel(value: Any) -> str:
    """A label recorded in the language of whoever acted ("Staff"), shown in the reader's
    when the catalogue knows it; anything else as it was recorded."""
    text = str(value or "")
    return gettext(text) if text else "—"


def key_label(key: object) -> str:
    text = str(key)
    found = KEY_LABELS.get(text)
    if found is not None:
        return str(found)
    return text.replace("_", " ").replace(".", " ").strip().capitalize() or "—"


def is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except (ValueError, OverflowError):
        return False
    return True


def plain(value: Any) -> str:
    """Any JSON value as people read it: dates in the organisation's style, numbers with the
    language's separators, nothing as a dash, lists and objects spelled out."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, int | float | Decimal):
        return number(value)
    if isinstance(value, Mapping):
        return joined(pair(key_label(k), plain(v)) for k, v in value.items()) or "—"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value) or "—"
    text = str(value)
    try:
        if _ISO_MOMENT.fullmatch(text[:16]) and len(text) > 10:
            return moment(dt.datetime.fromisoformat(text))
        if _ISO_DAY.fullmatch(text):
            return day(dt.date.fromisoformat(text))
    except (ValueError, OverflowError):
        # A text that looks like a moment but lies outside what the time zone can shift
        # (9999-12-31T23:30-05:00) is shown as typed: the log must open whatever was stored.
        return text
    return text


def humanised(details: Mapping[str, Any]) -> str:
    """The fallback: "Key: value; …", leaving out identifiers (UUIDs) that tell people
    nothing; the CSV's JSON column keeps them. In the keys' order, sorted: PostgreSQL's
    jsonb does not keep the order they were written in, and a log reads the same on any
    database."""
    return joined(
        pair(key_label(key), plain(value))
        for key, value in sorted(details.items())
        if not (isinstance(value, str) and is_uuid(value))
    )


def describe(name: str, details: object) -> str:
    """An entry's details as a sentence in the active language; never fails."""
    if not isinstance(details, Mapping):
        return "" if details in (None, "") else plain(details)
    shown = {str(k): v for k, v in details.items() if k not in _ACTOR_KEYS}
    if not shown:
        return ""
    found = _REGISTRY.get(name)
    how = found.describe if found is not None else None
    try:
        if callable(how):
            return how(shown)
        if how is not None:
            return str(how) % {key: plain(value) for key, value in shown.items()}
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
        # Details recorded before the action's description changed: said plainly instead.
        pass
    return humanised(shown)


def count(value: Any) -> int | None:
    """A number recorded as text (details are stored as strings), or None."""
    try:
        return int(str(value))
    except (ValueError, OverflowError):
        return None


def names(value: Any, labels: Callable[[str], str] = key_label) -> str:
    """A comma-separated list of identifiers ("first_name, email") named for people."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return ", ".join(labels(str(item).strip()) for item in items if str(item).strip()) or "—"


def changed_fields(model: type[Model], value: Any) -> str:
    """ "Changed: …" for a list of a model's field names, by their verbose names."""

    def field_label(name: str) -> str:
        try:
            found = model._meta.get_field(name)
        except FieldDoesNotExist:
            return key_label(name)
        return str(getattr(found, "verbose_name", None) or key_label(name))

    return gettext("Changed: %(fields)s") % {"fields": names(value, field_label)}


def _role(details: Mapping[str, Any]) -> str:
    return gettext("Role: %(role)s") % {"role": relabel(details["role"])}


def _new_role(details: Mapping[str, Any]) -> str:
    return gettext("New role: %(role)s") % {"role": relabel(details["role"])}


def _settings_changed(details: Mapping[str, Any]) -> str:
    from organizations.models import Organization

    return changed_fields(Organization, details["changed"])


def _failing_reason(details: Mapping[str, Any]) -> str:
    if details.get("reason") == "complained":
        return gettext("It had been reported as spam; the client asked for e-mails again.")
    return gettext("Its e-mails had bounced.")


def _from_address(details: Mapping[str, Any]) -> str:
    if details.get("method") == "passkey":
        if not details.get("address"):
            return gettext("With a passkey")
        return gettext("With a passkey, from the address %(address)s") % {
            "address": details["address"]
        }
    if not details.get("address"):
        return ""
    return gettext("From the address %(address)s") % {"address": details["address"]}


def on_the_server(details: Mapping[str, Any]) -> str:
    """ "By the … command, on the server (account …)", for an entry a command recorded."""
    job = details.get("job") or details.get("by")
    if not job:
        return ""
    if details.get("operator"):
        return gettext("By the %(job)s command, on the server (account %(operator)s)") % {
            "job": job,
            "operator": details["operator"],
        }
    return gettext("By the %(job)s command, on the server") % {"job": job}


def _two_factor(details: Mapping[str, Any]) -> str:
    if details.get("by") == "reset_two_factor":
        return on_the_server(details)
    return humanised(details)


def _passkey(details: Mapping[str, Any]) -> str:
    said = gettext("Passkey “%(name)s”") % {"name": details.get("name") or "—"}
    if details.get("by") == "reset_two_factor":
        return joined([said, gettext("By the reset_two_factor command, on the server")])
    return said


def _exported(details: Mapping[str, Any]) -> str:
    filters = str(details.get("filters") or "")
    if not filters:
        return gettext("Everything, without filters")
    pairs = [part.split("=", 1) for part in filters.split(", ") if "=" in part]
    if not pairs:
        return humanised(details)
    labels = {
        "app": _("Area"),
        "action": _("Action"),
        "user": _("Who"),
        "since": pgettext_lazy("first day of a range", "From"),
        "until": pgettext_lazy("last day of a range", "To"),
    }

    def value(key: str, value: str) -> str:
        if key == "app":
            return str(AREAS.get(value, value))
        if key == "user":
            return str(ACTOR_CHOICES.get(value, value))
        return plain(label_for(value))

    return gettext("Filters: %(filters)s") % {
        "filters": joined(pair(str(labels.get(k, key_label(k))), value(k, v)) for k, v in pairs)
    }


# The areas of the log, by the app that declares their actions.
AREAS: dict[str, Promise] = {
    "organizations": _("Organisation and members"),
    "profiles": _("Profiles and fields"),
    "dossiers": _("Dossiers"),
    "monitoring": _("Data monitoring"),
    "api": _("API"),
}

# The log's "who" filter: besides each member, every actor of one kind.
ACTOR_CHOICES: dict[str, Promise] = {
    "actor:api_key": _("API keys"),
    "actor:client": _("Clients"),
    "actor:system": _("System"),
}


# The actions of this app.

SETTINGS_UPDATED = action(
    "organizations.settings.updated", _("Organisation settings changed"), _settings_changed
)
MEMBER_INVITED = action("organizations.member.invited", _("Member invited"), _role)
INVITATION_CANCELLED = action(
    "organizations.member.invitation_cancelled", _("Invitation cancelled")
)
MEMBER_ADDED = action("organizations.member.added", _("Member added"), _role)
MEMBER_ROLE_CHANGED = action(
    "organizations.member.role_changed", _("Member's role changed"), _new_role
)
MEMBER_REMOVED = action("organizations.member.removed", _("Member removed"))
ADDRESS_RETRIED = action(
    "organizations.address.retried", _("E-mail address to be tried again"), _failing_reason
)
LOGIN = action("organizations.auth.login", _("Logged in"), _from_address)
LOGIN_FAILED = action("organizations.auth.login_failed", _("Failed login"), _from_address)
PASSWORD_RESET_REQUESTED = action("organizations.auth.password_reset", _("New password asked for"))
PASSWORD_CHANGED = action("organizations.auth.password_changed", _("Password changed"))
TWO_FACTOR_ENABLED = action("organizations.auth.two_factor_enabled", _("Second factor turned on"))
TWO_FACTOR_DISABLED = action(
    "organizations.auth.two_factor_disabled", _("Second factor turned off"), _two_factor
)
AUDIT_REDACTED = action(
    "organizations.audit.redacted",
    _("Personal data blanked in the log"),
    _("%(count)s entries, at positions %(entries)s"),
)
AUDIT_EXPORTED = action("organizations.audit.exported", _("Audit log exported"), _exported)
PASSKEY_ADDED = action("organizations.auth.passkey_added", _("Passkey added"), _passkey)
PASSKEY_REMOVED = action("organizations.auth.passkey_removed", _("Passkey removed"), _passkey)


def _sso_configured(details: Mapping[str, Any]) -> str:
    from organizations.models import SsoProvider

    def label(name: str) -> str:
        if name == "client_secret":
            return gettext("client secret")
        return changed_fields_label(SsoProvider, name)

    return gettext("Changed: %(fields)s") % {"fields": names(details["changed"], label)}


def changed_fields_label(model: type[Model], name: str) -> str:
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        return key_label(name)
    return str(getattr(found, "verbose_name", None) or key_label(name))


SSO_SECOND_FACTORS: dict[str, Promise] = {
    "provider": _("the provider's"),
    "code": _("their code"),
    "none": _("none"),
}
SSO_REFUSALS: dict[str, Promise] = {
    "email_not_verified": _("the provider did not confirm the e-mail address"),
    "no_member": _("no member has this e-mail address"),
    "ambiguous": _("several members have this e-mail address"),
    "other_account": _("another account was signed in"),
    "locked_out": _("logging in is paused for this name and address"),
    "no_id_token": _("the provider's answer had no identity token"),
}


def _sso_signed_in(details: Mapping[str, Any]) -> str:
    factor = str(details.get("second_factor") or "none")
    return joined(
        [
            _from_address(details),
            pair(gettext("Second factor"), str(SSO_SECOND_FACTORS.get(factor, factor))),
        ]
    )


def _sso_refused(details: Mapping[str, Any]) -> str:
    reason = str(details.get("reason") or "")
    # Refusals of the token itself keep the gist of the check that failed ("invalid_claim:iss").
    why = SSO_REFUSALS.get(reason) or gettext("the identity token failed a check (%(check)s)") % {
        "check": reason or "—"
    }
    return joined([pair(gettext("Why"), str(why)), _from_address(details)])


SSO_CONFIGURED = action(
    "organizations.sso.configured", _("Single sign-on provider saved"), _sso_configured
)
SSO_REMOVED = action("organizations.sso.removed", _("Single sign-on provider removed"))
SSO_SIGNED_IN = action(
    "organizations.sso.signed_in", _("Signed in through single sign-on"), _sso_signed_in
)
SSO_REFUSED = action("organizations.sso.refused", _("Single sign-on refused"), _sso_refused)
