"""The audit actions of dossiers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from organizations.audit import action, count, humanised

# Why links were revoked, as dossiers.revocation records it.
_REVOCATION_REASONS = {
    "e-mail changed": _("the e-mail address changed"),
    "no longer a recipient": _("no longer a recipient of the dossier"),
}


def _links_revoked(details: Mapping[str, Any]) -> str:
    links = count(details["links"])
    if links is None:
        return humanised(details)
    reason = str(details.get("reason") or "")
    if not reason:
        return ngettext("%(count)s link revoked", "%(count)s links revoked", links) % {
            "count": links
        }
    return ngettext(
        "%(count)s link revoked: %(reason)s", "%(count)s links revoked: %(reason)s", links
    ) % {"count": links, "reason": _REVOCATION_REASONS.get(reason, reason)}


def _on_behalf(details: Mapping[str, Any]) -> str:
    if not details.get("recipient"):
        return ""
    return gettext("On behalf of %(recipient)s") % {"recipient": details["recipient"]}


def _approved(details: Mapping[str, Any]) -> str:
    # An approval of every pending item records how many; of one item, its label.
    items = details["items"]
    approved = count(items)
    if approved is not None:
        return ngettext("%(count)s item approved", "%(count)s items approved", approved) % {
            "count": approved
        }
    if isinstance(items, list) and len(items) == 1:
        return gettext("Approved: %(item)s") % {"item": items[0]}
    if isinstance(items, list):
        return ngettext(
            "%(count)s item approved: %(items)s", "%(count)s items approved: %(items)s", len(items)
        ) % {"count": len(items), "items": ", ".join(str(i) for i in items)}
    return gettext("Approved: %(item)s") % {"item": items}


def _rejected(details: Mapping[str, Any]) -> str:
    return gettext("Sent back: %(item)s, because “%(reason)s”") % {
        "item": details["item"],
        "reason": details.get("reason") or "—",
    }


def _undone(details: Mapping[str, Any]) -> str:
    return gettext("Taken back: %(item)s") % {"item": details["item"]}


def _purged(details: Mapping[str, Any]) -> str:
    purged = count(details["dossiers"])
    if purged is None:
        return humanised(details)
    return ngettext(
        "%(count)s update dossier purged, its record kept",
        "%(count)s update dossiers purged, their records kept",
        purged,
    ) % {"count": purged}


def _created(details: Mapping[str, Any]) -> str:
    return gettext("For %(profile)s") % {"profile": details["profile"]}


def _upload_downloaded(details: Mapping[str, Any]) -> str:
    return gettext("Field: %(field)s") % {"field": details["field"]}


def _nothing_to_say(details: Mapping[str, Any]) -> str:
    # The dossier's UUID only: the object column names the dossier already.
    return "" if set(details) <= {"dossier"} else humanised(details)


DOSSIER_CREATED = action("dossiers.dossier.created", _("Dossier opened"), _created)
DOSSIER_RESENT = action("dossiers.dossier.resent", _("Dossier link sent again"), _nothing_to_say)
CLIENT_PAGE_OPENED = action(
    "dossiers.dossier.client_page_opened", _("Client's page opened"), _nothing_to_say
)
LINKS_REVOKED = action("dossiers.links.revoked", _("Links revoked"), _links_revoked)
DOSSIER_SUBMITTED_ON_BEHALF = action(
    "dossiers.dossier.submitted_on_behalf",
    _("Dossier submitted on the client's behalf"),
    _on_behalf,
)
DOSSIER_DRAFTED_ON_BEHALF = action(
    "dossiers.dossier.drafted_on_behalf",
    _("Dossier draft saved on the client's behalf"),
    _on_behalf,
)
DOSSIER_APPROVED = action("dossiers.dossier.approved", _("Dossier answers approved"), _approved)
DOSSIER_REJECTED = action("dossiers.dossier.rejected", _("Dossier answer sent back"), _rejected)
DOSSIER_APPROVAL_UNDONE = action(
    "dossiers.dossier.approval_undone", _("Approval of a dossier answer undone"), _undone
)
DOSSIER_SEND_BACK_UNDONE = action(
    "dossiers.dossier.send_back_undone", _("Sending back of a dossier answer undone"), _undone
)
DOSSIERS_PURGED = action("dossiers.dossiers.purged", _("Update dossiers purged"), _purged)
UPLOAD_DOWNLOADED = action(
    "dossiers.upload.downloaded",
    _("A client's upload awaiting review downloaded"),
    _upload_downloaded,
)
UPLOAD_VIEWED = action(
    "dossiers.upload.viewed",
    _("A client's upload awaiting review viewed in the review page"),
    _upload_downloaded,
)
