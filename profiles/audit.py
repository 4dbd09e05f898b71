"""The audit actions of profiles and data fields."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from organizations.audit import action

FIELD_CREATED = action("profiles.field.created", _("Data field created"))
FIELD_UPDATED = action("profiles.field.updated", _("Data field changed"))
FIELD_ARCHIVED = action("profiles.field.archived", _("Data field archived"))
FIELD_RESTORED = action("profiles.field.restored", _("Data field restored"))
PROFILE_CREATED = action("profiles.profile.created", _("Profile created"))
PROFILE_UPDATED = action("profiles.profile.updated", _("Profile changed"))
PROFILE_ARCHIVED = action("profiles.profile.archived", _("Profile archived"))
PROFILE_RESTORED = action("profiles.profile.restored", _("Profile restored"))
DOCUMENT_DOWNLOADED = action("profiles.document.downloaded", _("Document downloaded"))
PROFILE_EXPORTED = action("profiles.profile.exported", _("Personal data exported"))
PROFILE_ERASED = action("profiles.profile.erased", _("Profile erased"))
VALUE_RESTORED = action("profiles.value.restored", _("Earlier value restored"))
