"""The rows of the profile page's values, rendered in Python.

A profile of a hundred fields took a hundred passes through some forty template nodes each:
most of the page's time (docs/PERFORMANCE.md). These are the same rows from string
formatting, every value escaped as the template escaped it. The "⋯" pop-up belongs to the
monitoring app and stays named by URL only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any, ClassVar
from uuid import UUID

from django.template.defaultfilters import filesizeformat
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.translation import gettext as _

from organizations.display import day
from organizations.links import row_link
from profiles import fieldtypes
from profiles.models import FieldType, choice_label, expiry_status
from profiles.texts import Translatable


class ShownField(Translatable):
    """What the page shows of a data field, read as a tuple: a hundred model instances were
    a large part of the page's time."""

    COLUMNS: ClassVar[tuple[str, ...]] = ("pk", "uuid", "label", "section", "type", "translations")

    def __init__(
        self,
        pk: int,
        uuid: UUID,
        label: str,
        section: str,
        type: str,
        translations: dict[str, dict[str, Any]],
    ) -> None:
        self.pk, self.uuid, self.label, self.section = pk, uuid, label, section
        self.type, self.translations = type, translations

    @property
    def local_label(self) -> str:
        return self.translated("label")

    @property
    def local_section(self) -> str:
        return self.translated("section")

    @property
    def is_document(self) -> bool:
        return self.type == FieldType.DOCUMENT

    def choice_label(self, value: str) -> str:
        return choice_label(self.translations, value)


@dataclass(frozen=True, slots=True)
class ShownDocument:
    uuid: UUID
    name: str
    size: int


@dataclass(frozen=True, slots=True)
class ShownValue:
    """What the page shows of a value, read as a tuple with its document's."""

    value: Any
    expires_on: dt.date | None
    last_confirmed_at: dt.datetime | None
    document: ShownDocument | None

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "field_id",
        "value",
        "expires_on",
        "last_confirmed_at",
        "document__uuid",
        "document__name",
        "document__size",
    )

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> tuple[int, ShownValue]:
        field_id, value, expires_on, confirmed, document, name, size = row
        shown = ShownDocument(document, name, size) if document is not None else None
        return field_id, cls(value, expires_on, confirmed, shown)

    def expiry_status(self, today: dt.date) -> str | None:
        return expiry_status(self.expires_on, today)


@dataclass
class _Page:
    """What every row of one profile's page shares: labels and links, resolved once."""

    empty: str
    history: str
    more: str
    empty_more: str
    confirmed: str
    history_url: str
    document_url: Callable[[UUID], str]
    popup_url: Callable[[UUID], str] | None


def page_of(org_slug: str, profile_uuid: UUID) -> _Page:
    try:
        popup_url: Callable[[UUID], str] | None = row_link(
            "monitoring:value_popup", org_slug, profile_uuid
        )
    except NoReverseMatch:
        popup_url = None
    return _Page(
        empty=escape(_("Empty")),
        history=escape(_("history")),
        more=escape(_("Expiry and updates")),
        empty_more=escape(_("Empty field: nothing to update")),
        confirmed=_("last confirmed on %(date)s"),
        history_url=escape(reverse("profiles:history", args=[org_slug, profile_uuid])),
        document_url=row_link("profiles:document", org_slug),
        popup_url=popup_url,
    )


def _expiry_badge(status: str, date: str) -> str:
    """The badge of a value's expiry. Each message is a literal gettext call, so that the
    catalogue's extraction finds it; `date` is already escaped, as {% blocktranslate %} does."""
    if status == "expired":
        css, text = "bad", _("Expired on %(date)s") % {"date": date}
    elif status == "expiring":
        css, text = "warn", _("Expires on %(date)s") % {"date": date}
    else:
        css, text = "ok", _("Valid until %(date)s") % {"date": date}
    return f' <span class="badge {css}">{text}</span>'


def sections_html(
    fields: Iterable[ShownField],
    values: Mapping[int, ShownValue],
    notes: Mapping[int, list[str]],
    page: _Page,
    today: dt.date,
) -> dict[str, SafeString]:
    """{section heading: its rows}, the sections grouped as typed and headed in the reader's
    language, in the order of their first field."""
    rows: dict[str, list[str]] = {}
    headings: dict[str, str] = {}
    days: dict[dt.date | dt.datetime, str] = {}

    def day_of(value: dt.date | dt.datetime) -> str:
        if value not in days:
            days[value] = escape(day(value))
        return days[value]

    for field in fields:
        if field.section not in rows:
            rows[field.section] = []
            headings[field.section] = field.local_section
        rows[field.section].append(
            _row(field, values.get(field.pk), notes.get(field.pk, ()), page, today, day_of)
        )
    return {
        headings[section]: mark_safe("".join(section_rows))  # noqa: S308 - escaped in _row
        for section, section_rows in rows.items()
    }


def _text_html(text: str) -> str:
    """`linebreaksbr` with escaping: what the template's filter wrote."""
    if not isinstance(text, SafeData):
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        text = escape(text)
    return text.replace("\n", "<br>")


def _row(
    field: ShownField,
    value: ShownValue | None,
    notes: Iterable[str],
    page: _Page,
    today: dt.date,
    day_of: Callable[[dt.date | dt.datetime], str],
) -> str:
    # `html.escape` is Django's `escape` without its check for lazy arguments on each call.
    label = escape(field.local_label)
    parts = [f'<tr id="field-{field.uuid}"><th scope="row">{label}</th><td>']
    if value:
        if field.is_document and value.document:
            document = value.document
            parts.append(
                format_html(
                    '<a href="{}">{}</a> <span class="muted">({})</span>',
                    page.document_url(document.uuid),
                    document.name,
                    filesizeformat(document.size),
                )
            )
        else:
            parts.append(_text_html(fieldtypes.display(field, value.value)))
        if expiry := value.expiry_status(today):
            assert value.expires_on is not None
            parts.append(_expiry_badge(expiry, day_of(value.expires_on)))
    else:
        parts.append(f'<span class="muted">{page.empty}</span>')
    if value and value.last_confirmed_at:
        text = page.confirmed % {"date": day_of(value.last_confirmed_at)}
        parts.append(f' <span class="muted evidence">{text}</span>')
    parts += [format_html(' <span class="badge info">{}</span>', note) for note in notes]
    parts.append(
        f' <a class="muted history-link" href="{page.history_url}?field={field.uuid}">'
        f'{page.history}</a></td><td class="more">'
    )
    if value:
        if page.popup_url is not None:
            popup = escape(page.popup_url(field.uuid))
            parts.append(
                f'<a class="more-button" href="{popup}" hx-get="{popup}" hx-target="#dialog"'
                f' hx-swap="innerHTML" title="{page.more}"'
                f' aria-label="{page.more}: {label}" aria-haspopup="dialog">⋯</a>'
            )
    else:
        parts.append(
            f'<button type="button" class="more-button" disabled title="{page.empty_more}"'
            f' aria-label="{page.empty_more}">⋯</button>'
        )
    parts.append("</td></tr>")
    return "".join(parts)
