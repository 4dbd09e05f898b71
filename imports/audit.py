"""The audit actions of imports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from organizations.audit import action


def _imported(details: Mapping[str, Any]) -> str:
    return gettext(
        "%(file)s: %(created)s created, %(changed)s changed, %(unchanged)s unchanged, "
        "%(errors)s rows refused"
    ) % {
        "file": details["file"],
        "created": details["created"],
        "changed": details["changed"],
        "unchanged": details["unchanged"],
        "errors": details["errors"],
    }


PROFILES_IMPORTED = action("imports.profiles.imported", _("Profiles imported"), _imported)


def _exported(details: Mapping[str, Any]) -> str:
    return gettext("%(file)s, %(rows)s rows") % {"file": details["file"], "rows": details["rows"]}


PROFILES_EXPORTED = action("imports.profiles.exported", _("Profiles exported"), _exported)
