"""The audit actions of dossiers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from organizations.audit import action

DOSSIER_CREATED = action("dossiers.dossier.created", _("Dossier opened"))
DOSSIER_RESENT = action("dossiers.dossier.resent", _("Dossier link sent again"))
CLIENT_PAGE_OPENED = action("dossiers.dossier.client_page_opened", _("Client's page opened"))
LINKS_REVOKED = action("dossiers.links.revoked", _("Links revoked"))
DOSSIER_SUBMITTED_ON_BEHALF = action(
    "dossiers.dossier.submitted_on_behalf", _("Dossier submitted on the client's behalf")
)
DOSSIER_DRAFTED_ON_BEHALF = action(
    "dossiers.dossier.drafted_on_behalf", _("Dossier draft saved on the client's behalf")
)
DOSSIER_APPROVED = action("dossiers.dossier.approved", _("Dossier answers approved"))
DOSSIER_REJECTED = action("dossiers.dossier.rejected", _("Dossier answer sent back"))
UPLOAD_DOWNLOADED = action(
    "dossiers.upload.downloaded", _("A client's upload awaiting review downloaded")
)
