"""E-mails of a dossier, each in its reader's language, each with a fresh personal link."""

from __future__ import annotations

from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from dossiers.models import AccessToken, Dossier, ItemReview
from organizations.display import style_of
from organizations.models import Organization
from profiles.models import DataField, Profile


def portal_url(token: str) -> str:
    return settings.SITE_URL + reverse("portal:dossier", kwargs={"token": token})


def sender(organization: Organization) -> str:
    """From "Acme via Back office <no-reply@…>": the client knows the organisation at a
    glance, while the address stays the one the mail server may send from."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((f"{organization.name} via {name or address}", address))


def asked_fields(dossier: Dossier) -> list[DataField]:
    """The fields a dossier asks for, in its order; their labels follow the reader's language."""
    return [item.field for item in dossier.items.select_related("field").order_by("position")]


def _message(template: str, context: dict, to: str, language: str) -> EmailMultiAlternatives:
    organization = context["organization"]
    with (
        translation.override(language),
        timezone.override(organization.tzinfo),
        style_of(organization),
    ):
        # The subject is a header, not HTML: its template escapes nothing.
        subject = " ".join(
            render_to_string(f"dossiers/email/{template}_subject.txt", context).split()
        )
        body = render_to_string(f"dossiers/email/{template}.txt", context)
        html = render_to_string(
            f"dossiers/email/{template}.html", {**context, "subject": subject, "language": language}
        )
    message = EmailMultiAlternatives(
        subject=subject, body=body, from_email=sender(organization), to=[to]
    )
    message.attach_alternative(html, "text/html")
    return message


def link_message(dossier: Dossier, recipient: Profile, template: str) -> EmailMultiAlternatives:
    """A message carrying a new token for this recipient (only hashes are stored), listing
    what is asked."""
    rejected = list(
        dossier.items.filter(review=ItemReview.REJECTED).select_related("field")
        if dossier.status == Dossier.Status.CHANGES_REQUESTED
        else []
    )
    token = AccessToken.issue(dossier, recipient)
    context = {
        "dossier": dossier,
        "organization": dossier.organization,
        "recipient": recipient,
        "fields": asked_fields(dossier),
        "url": portal_url(token),
        "rejected": rejected,
    }
    return _message(template, context, recipient.email, recipient.language)


def confirmation_message(dossier: Dossier, person: Profile) -> EmailMultiAlternatives:
    context = {"dossier": dossier, "organization": dossier.organization, "recipient": person}
    return _message("confirmation", context, person.email, person.language)


def staff_notice_message(dossier: Dossier, email: str, language: str) -> EmailMultiAlternatives:
    staff_url = settings.SITE_URL + reverse(
        "dossiers:detail",
        kwargs={"org_slug": dossier.organization.slug, "dossier_uuid": dossier.uuid},
    )
    context = {"dossier": dossier, "organization": dossier.organization, "url": staff_url}
    return _message("staff_notice", context, email, language)


def digest_message(
    organization: Organization, to: str, language: str, counts: dict[str, int]
) -> EmailMultiAlternatives:
    base = settings.SITE_URL
    context = {
        "organization": organization,
        "counts": counts,
        "review_url": base
        + reverse("dossiers:review_queue", kwargs={"org_slug": organization.slug}),
        "overview_url": base
        + reverse("monitoring:overview", kwargs={"org_slug": organization.slug}),
    }
    return _message("digest", context, to, language or organization.default_language)
