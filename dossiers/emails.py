"""E-mails of a dossier, each in its reader's language, each with a fresh personal link."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from types import SimpleNamespace

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from dossiers.models import AccessToken, Dossier, ItemReview
from organizations.display import style_of
from organizations.models import Organization
from outbox.shared import SharedEmail, html_hole, text_hole
from profiles.models import DataField, Profile

# Where a token goes in the portal address (URL-safe, as tokens are).
_TOKEN_HOLE = "token-to-come"  # noqa: S105 - a placeholder, not a secret


def portal_url(token: str) -> str:
    return settings.SITE_URL + reverse("portal:dossier", kwargs={"token": token})


def sender(organization: Organization) -> str:
    """From "Acme via Back office <no-reply@…>": the client knows the organisation at a
    glance, while the address stays the one the mail server may send from."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((f"{organization.name} via {name or address}", address))


def reply_to(organization: Organization) -> list[str]:
    """Where a client's answer goes: the organisation's contact address, when it has one."""
    return [organization.contact_email] if organization.contact_email else []


def with_groups(dossiers: Iterable[Dossier]) -> None:
    """Gives each dossier of a group its group, each group read once: a batch's requests come
    from a handful of groups, and a group joined to every dossier's row cost more to build
    than the rest of the row (its JSON settings decoded once per dossier)."""
    dossiers = [d for d in dossiers if d.update_group_id is not None]
    if not dossiers:
        return
    # monitoring sits right of dossiers: the group's model is reached through the field.
    field = Dossier._meta.get_field("update_group")
    groups = field.related_model._default_manager.in_bulk({d.update_group_id for d in dossiers})
    for dossier in dossiers:
        # A group deleted meanwhile reads None, as the join did, its id left as it was.
        field.set_cached_value(dossier, groups.get(dossier.update_group_id))


def asked_fields(dossier: Dossier) -> list[DataField]:
    """The fields a dossier asks for, in its order; their labels follow the reader's language."""
    return [item.field for item in dossier.items.select_related("field").order_by("position")]


def _render(
    template: str, context: dict, language: str, html_context: dict | None = None
) -> tuple[str, str, str]:
    """Subject, text and HTML of a template in the reader's language, the organisation's time
    zone and date style; `html_context` when the HTML needs values of its own."""
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
            f"dossiers/email/{template}.html",
            {**(html_context or context), "subject": subject, "language": language},
        )
    return subject, body, html


def _message(template: str, context: dict, to: str, language: str) -> EmailMultiAlternatives:
    subject, body, html = _render(template, context, language)
    organization = context["organization"]
    message = EmailMultiAlternatives(
        subject=subject,
        body=body,
        from_email=sender(organization),
        to=[to],
        reply_to=reply_to(organization),
    )
    message.attach_alternative(html, "text/html")
    return message


@dataclass(frozen=True)
class AskedAgain:
    """What a "changes requested" message shows of an item sent back: its field, the reason."""

    field: DataField
    rejection_reason: str


class LinkMessages:
    """The link messages of one batch.

    What a link message shows is its dossier's (title, message, closing date, fields asked,
    answers sent back) and its organisation's, in the reader's language; only the name and
    the link are the recipient's. So each (template, language, what the dossier shows) is
    rendered once, with holes for those two, and each recipient's copy fills them in. The
    templates see nothing else of the dossier or the recipient, so no copy can carry another
    reader's data.
    """

    def __init__(self) -> None:
        self._shared: dict[tuple[object, ...], SharedEmail] = {}
        self._portal_url = portal_url(_TOKEN_HOLE)

    def message(
        self,
        dossier: Dossier,
        recipient: Profile,
        template: str,
        token: str,
        fields: Sequence[DataField],
        rejected: Sequence[AskedAgain],
    ) -> EmailMultiAlternatives:
        # A group's texts follow the reader's language.
        with translation.override(recipient.language):
            shown = SimpleNamespace(
                local_title=dossier.local_title,
                local_message=dossier.local_message,
                expires_at=dossier.expires_at,
            )
        key = (
            template,
            recipient.language,
            dossier.organization_id,
            shown.local_title,
            shown.local_message,
            shown.expires_at,
            tuple(field.pk for field in fields),
            tuple((item.field.pk, item.rejection_reason) for item in rejected),
            bool(recipient.greeting_name),
        )
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = _shared_link_message(
                dossier.organization,
                shown,
                template,
                recipient.language,
                fields,
                rejected,
                named=bool(recipient.greeting_name),
            )
        # Tokens are URL-safe: the link is the same address with the token put in.
        url = self._portal_url.replace(_TOKEN_HOLE, token)
        return shared.personal(recipient.email, {"name": recipient.greeting_name, "url": url})


def _shared_link_message(
    organization: Organization,
    shown: SimpleNamespace,
    template: str,
    language: str,
    fields: Sequence[DataField],
    rejected: Sequence[AskedAgain],
    *,
    named: bool,
) -> SharedEmail:

    def context(hole: Callable[[str], str]) -> dict:
        return {
            "dossier": shown,
            "organization": organization,
            "recipient": SimpleNamespace(greeting_name=hole("name") if named else ""),
            "fields": list(fields),
            "url": hole("url"),
            "rejected": list(rejected),
        }

    subject, body, html = _render(template, context(text_hole), language, context(html_hole))
    return SharedEmail(subject, body, html, sender(organization), reply_to(organization))


def link_message(
    dossier: Dossier, recipient: Profile, template: str, *, sent_to: str
) -> EmailMultiAlternatives:
    """A message carrying a new token for this recipient (only hashes are stored), listing
    what is asked."""
    rejected = [
        AskedAgain(item.field, item.rejection_reason)
        for item in (
            dossier.items.filter(review=ItemReview.REJECTED).select_related("field")
            if dossier.status == Dossier.Status.CHANGES_REQUESTED
            else []
        )
    ]
    token = AccessToken.issue(dossier, recipient, sent_to=sent_to)
    return LinkMessages().message(
        dossier, recipient, template, token, asked_fields(dossier), rejected
    )


class DailyMessages:
    """The e-mails of recipients' days (`dossiers.daily`) of one batch: what one shows is its
    requests' (titles, messages, closing dates, fields asked) and its organisation's, in the
    reader's language, so each such shape is rendered once, with holes for the name and the
    link, as `LinkMessages` does."""

    def __init__(self) -> None:
        self._shared: dict[tuple[object, ...], SharedEmail] = {}
        self._portal_url = portal_url(_TOKEN_HOLE)

    def message(
        self,
        organization: Organization,
        recipient: Profile,
        template: str,
        requests: Sequence[SimpleNamespace],
        token: str,
    ) -> EmailMultiAlternatives:
        key = (
            template,
            recipient.language,
            organization.pk,
            tuple(
                (r.local_title, r.local_message, r.expires_at, tuple(f.pk for f in r.fields))
                for r in requests
            ),
        )
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = self._render(
                organization, template, recipient.language, requests
            )
        url = self._portal_url.replace(_TOKEN_HOLE, token)
        return shared.personal(recipient.email, {"name": recipient.display_name, "url": url})

    @staticmethod
    def _render(
        organization: Organization,
        template: str,
        language: str,
        requests: Sequence[SimpleNamespace],
    ) -> SharedEmail:
        def context(hole: Callable[[str], str]) -> dict:
            return {
                "organization": organization,
                "recipient": SimpleNamespace(display_name=hole("name")),
                "requests": list(requests),
                "closes": min(request.expires_at for request in requests),
                "url": hole("url"),
            }

        subject, body, html = _render(template, context(text_hole), language, context(html_hole))
        return SharedEmail(subject, body, html, sender(organization), reply_to(organization))


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
