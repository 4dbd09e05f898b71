"""The e-mail that says an import is over, through the outbox."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from imports.models import ImportJob
from outbox import registry
from outbox.mail import queue
from outbox.models import Message

IMPORT_DONE = "imports.import_done"


def register_kinds() -> None:
    registry.register(IMPORT_DONE, _render, _("Import finished"))


def send_import_done(job: ImportJob) -> None:
    user = job.created_by
    if user is None or not user.email:
        return
    queue(
        [
            Message(
                organization_id=job.organization_id,
                key=f"{IMPORT_DONE}:{job.uuid}",
                kind=IMPORT_DONE,
                address=user.email,
                language=job.organization.default_language,
            )
        ]
    )


def _render(row: Message) -> EmailMessage | None:
    job_uuid = row.key.rsplit(":", 1)[-1]
    job = ImportJob.objects.select_related("organization").filter(uuid=job_uuid).first()
    if job is None:
        return None
    url = settings.SITE_URL + reverse(
        "imports:detail", kwargs={"org_slug": job.organization.slug, "job_uuid": job.uuid}
    )
    with translation.override(row.language or job.organization.default_language):
        subject = str(_("Import of %(file)s finished") % {"file": job.filename})
        body = render_to_string("imports/email/done.txt", {"job": job, "url": url})
    return EmailMessage(subject=" ".join(subject.split()), body=body, to=[row.address])
