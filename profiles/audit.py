"""The audit actions of profiles and data fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from organizations.audit import action, changed_fields, count, humanised, joined


def _field_created(details: Mapping[str, Any]) -> str:
    from profiles.models import FieldType

    kind = str(details["type"])
    return gettext("Type: %(type)s") % {"type": dict(FieldType.choices).get(kind, kind)}


def _field_updated(details: Mapping[str, Any]) -> str:
    from profiles.models import DataField

    return changed_fields(DataField, details["changed"])


def _profile_created(details: Mapping[str, Any]) -> str:
    from profiles.models import Kind

    kind = str(details["kind"])
    return gettext("Type: %(type)s") % {"type": dict(Kind.choices).get(kind, kind)}


def _profile_updated(details: Mapping[str, Any]) -> str:
    from profiles.models import Profile

    text = changed_fields(Profile, details["changed"])
    if "email_before" in details or "email_after" in details:
        text = joined(
            [
                text,
                gettext("e-mail: %(before)s → %(after)s")
                % {
                    "before": details.get("email_before") or "—",
                    "after": details.get("email_after") or "—",
                },
            ]
        )
    return text


def _document_downloaded(details: Mapping[str, Any]) -> str:
    return gettext("Of %(profile)s") % {"profile": details["profile"]}


def _exported(details: Mapping[str, Any]) -> str:
    files = count(details["files"])
    if files is None:
        return humanised(details)
    return ngettext("%(count)s file in the archive", "%(count)s files in the archive", files) % {
        "count": files
    }


def _erased(details: Mapping[str, Any]) -> str:
    files = count(details["files"])
    if files is None:
        return humanised(details)
    return ngettext("%(count)s file deleted", "%(count)s files deleted", files) % {"count": files}


FIELD_CREATED = action("profiles.field.created", _("Data field created"), _field_created)
FIELD_UPDATED = action("profiles.field.updated", _("Data field changed"), _field_updated)
FIELD_MOVED = action(
    "profiles.field.moved",
    _("Data field moved"),
    _("Now at position %(position)s of %(of)s"),
)
FIELD_ARCHIVED = action("profiles.field.archived", _("Data field archived"))
FIELD_RESTORED = action("profiles.field.restored", _("Data field restored"))
PROFILE_CREATED = action("profiles.profile.created", _("Profile created"), _profile_created)
PROFILE_UPDATED = action("profiles.profile.updated", _("Profile changed"), _profile_updated)
PROFILE_ARCHIVED = action("profiles.profile.archived", _("Profile archived"))
PROFILE_RESTORED = action("profiles.profile.restored", _("Profile restored"))
DOCUMENT_DOWNLOADED = action(
    "profiles.document.downloaded", _("Document downloaded"), _document_downloaded
)
PROFILE_EXPORTED = action("profiles.profile.exported", _("Personal data exported"), _exported)
PROFILE_ERASED = action("profiles.profile.erased", _("Profile erased"), _erased)
VALUE_RESTORED = action(
    "profiles.value.restored", _("Earlier value restored"), _("%(before)s → %(after)s")
)
