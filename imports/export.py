"""Contacts or companies with all their current values, in the shape the import reads back:
CSV (byte-order mark; `;` for an organisation whose language is French, `,` otherwise) or
XLSX. Dates in the organisation's style, numbers with its language's decimal mark, choices by
their label: a round trip export → import changes nothing."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from imports.mapping import ATTRIBUTES, attribute_label
from organizations.display import PATTERNS
from organizations.models import Organization
from profiles.models import DataField, FieldType, FieldValue, Kind, Profile

CHUNK = 2000


def delimiter_for(organization: Organization) -> str:
    return ";" if organization.default_language == "fr" else ","


def _fields(organization: Organization, kind: str) -> list[DataField]:
    return [
        f
        for f in DataField.objects.filter(organization=organization, applies_to=kind).active()
        if not f.is_document
    ]


def header(organization: Organization, kind: str) -> list[str]:
    names = [_("External reference")]
    names += [attribute_label(name) for name in ATTRIBUTES[Kind(kind)]]
    return names + [f.local_label for f in _fields(organization, kind)]


def profiles(organization: Organization, kind: str) -> Any:
    """The profiles an export writes: the active ones of the type."""
    return Profile.objects.filter(organization=organization, kind=kind).active()


def rows(
    organization: Organization,
    kind: str,
    *,
    typed: bool = False,
    on_page: Callable[[int], None] | None = None,
) -> Iterator[list[Any]]:
    """The profiles' lines, active ones, keyset-paginated so that memory stays flat.
    `typed` keeps dates and numbers as such (for XLSX); otherwise they are written out.
    `on_page` is told how many lines each page gave, once they are given (the progress of a
    background export)."""
    fields = _fields(organization, kind)
    decimal_comma = organization.default_language == "fr"
    pattern = PATTERNS.get(organization.date_style, PATTERNS["dmy"])
    ordered = profiles(organization, kind).select_related("company").order_by("id")
    last = 0
    while True:
        page = list(ordered.filter(id__gt=last)[:CHUNK])
        if not page:
            return
        last = page[-1].pk
        values: dict[tuple[int, int], Any] = {
            (profile_id, field_id): value
            for profile_id, field_id, value in FieldValue.objects.filter(
                organization=organization, profile__in=page, field__in=fields
            ).values_list("profile_id", "field_id", "value")
        }
        for profile in page:
            line: list[Any] = [profile.external_reference]
            for name in ATTRIBUTES[Kind(kind)]:
                value = getattr(profile, name)
                if name == "company":
                    value = (value.external_reference or value.name) if value else ""
                elif name == "is_representative":
                    value = _("Yes") if value else ""
                line.append(value)
            for field in fields:
                line.append(
                    _cell(field, values.get((profile.pk, field.pk)), typed, decimal_comma, pattern)
                )
            yield line
        if on_page is not None:
            on_page(len(page))


def _cell(field: DataField, value: Any, typed: bool, decimal_comma: bool, pattern: str) -> Any:
    if value is None:
        return ""
    match field.type:
        case FieldType.NUMBER:
            if typed:
                return Decimal(value)
            return value.replace(".", ",") if decimal_comma else value
        case FieldType.DATE:
            day = dt.date.fromisoformat(value)
            return day if typed else day.strftime(pattern)
        case FieldType.BOOLEAN:
            return _("Yes") if value else _("No")
        case FieldType.CHOICE:
            return field.choice_label(value)
    return value


def xlsx(
    organization: Organization, kind: str, *, on_page: Callable[[int], None] | None = None
) -> bytes:
    import openpyxl
    from openpyxl.cell import WriteOnlyCell

    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(header(organization, kind))
    for line in rows(organization, kind, typed=True, on_page=on_page):
        cells = []
        for value in line:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                # Text stays text: a value starting with "=" is never written as a formula.
                cell.data_type = "s"
            elif isinstance(value, dt.date):
                cell.number_format = (
                    "DD/MM/YYYY"
                    if "%d/%m" in PATTERNS.get(organization.date_style, "")
                    else "YYYY-MM-DD"
                )
            cells.append(cell)
        sheet.append(cells)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
