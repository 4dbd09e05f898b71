"""A row of cells made into what the actions take: identity, canonical values, errors.

Each value goes through the data field's own form field (profiles.fieldtypes), the one
validation every door shares, after the file's way of writing it (the organisation's date
style or ISO, the column's decimal comma or point, a choice by its label in either language)
is read.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from imports import digests
from imports.mapping import REFERENCE, normalised
from imports.reading import Cell
from organizations.display import PATTERNS
from profiles import fieldtypes
from profiles.models import DataField, FieldType, Kind, Profile

YES = {"yes", "oui", "true", "vrai", "1", "x", "y", "o"}
NO = {"no", "non", "false", "faux", "0", "n"}


@dataclass
class ParsedRow:
    line: int
    reference: str = ""
    identity: dict[str, Any] = field(default_factory=dict)
    company: str = ""  # a contact's company, by reference or name
    values: list[tuple[DataField, Any]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column heading, message)
    # The cells as read (imports.digests.of_cells); empty when the mapping takes no shortcut.
    digest: str = ""


def text_of(cell: Cell) -> str:
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value).strip()


_SPACES = re.compile(r"[\s\u00a0\u202f']")


def decimal_mark(text: str) -> str | None:
    """The decimal mark one number shows: "," or "."; "" when it has none; None when it
    cannot tell (1,234 is a thousand in English and one and a bit in French)."""
    text = _SPACES.sub("", text).lstrip("+-")
    if "," in text and "." in text:
        return "," if text.rfind(",") > text.rfind(".") else "."
    for mark in (",", "."):
        if mark in text:
            if text.count(mark) > 1:
                return "." if mark == "," else ","
            return None if re.fullmatch(rf"\d{{1,3}}\{mark}\d{{3}}", text) else mark
    return ""


def detect_decimal(texts: Iterable[str]) -> str | None:
    """A column's decimal mark from all its numbers: the one they show, "." when none shows
    one, None when only ambiguous numbers do, or when they disagree (then the page asks)."""
    return decide_decimal({decimal_mark(text) for text in texts})


def decide_decimal(marks: set[str | None]) -> str | None:
    """`detect_decimal` from the set of the marks the numbers show (`decimal_mark`'s)."""
    seen = {mark for mark in marks if mark}
    ambiguous = None in marks
    if len(seen) == 1:
        return seen.pop()
    if seen or ambiguous:
        return None
    return "."


def parse_number(text: str, mark: str) -> Decimal:
    text = _SPACES.sub("", text)
    grouping = "." if mark == "," else ","
    text = text.replace(grouping, "").replace(mark, ".")
    if not re.fullmatch(r"[-+]?(\d+(\.\d*)?|\.\d+)", text):
        raise InvalidOperation(text)
    return Decimal(text)


def parse_date(text: str, style: str) -> dt.date:
    for pattern in dict.fromkeys((PATTERNS.get(style, PATTERNS["dmy"]), PATTERNS["iso"])):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


class Parser:
    """Reads rows for one mapping: `mapping` is column number → target key."""

    def __init__(
        self,
        *,
        kind: str,
        headers: Sequence[str],
        mapping: Mapping[int, str],
        fields: Iterable[DataField],
        date_style: str,
        decimals: Mapping[int, str],
        salt: bytes | None = None,
    ) -> None:
        self.kind = kind
        self.salt = salt
        self.columns = sorted(mapping)
        self.headers = list(headers)
        self.mapping = dict(mapping)
        self.fields = {f"field:{f.uuid}": f for f in fields}
        self.date_style = date_style
        self.decimals = dict(decimals)
        self.form_fields = {
            key: fieldtypes.form_field(f, required=False) for key, f in self.fields.items()
        }
        # A choice by any of its labels, found once per import rather than once per cell.
        self.choices = {
            key: _choices(f) for key, f in self.fields.items() if f.type == FieldType.CHOICE
        }

    def heading(self, number: int) -> str:
        return self.headers[number] if number < len(self.headers) else str(number + 1)

    def digest(self, cells: Sequence[Cell]) -> str:
        return digests.of_cells(self.salt, cells, self.columns) if self.salt else ""

    def parse(self, line: int, cells: Sequence[Cell], digest: str | None = None) -> ParsedRow:
        row = ParsedRow(line=line, digest=self.digest(cells) if digest is None else digest)
        if len(cells) > len(self.headers):
            row.errors.append(
                (
                    "",
                    _("This line has %(cells)s cells; the heading names %(columns)s columns.")
                    % {"cells": len(cells), "columns": len(self.headers)},
                )
            )
            return row
        for number, key in self.mapping.items():
            if number >= len(cells):
                continue
            cell = cells[number]
            if cell.error:
                row.errors.append((self.heading(number), cell.error))
                continue
            text = text_of(cell)
            if text == "":
                # An empty cell leaves the value on file as it is: never a removal.
                continue
            try:
                self._take(row, number, key, cell, text)
            except ValidationError as error:
                row.errors.append((self.heading(number), " ".join(error.messages)))
        return row

    def _take(self, row: ParsedRow, number: int, key: str, cell: Cell, text: str) -> None:
        if key == REFERENCE:
            if len(text) > 100:
                raise ValidationError(_("A reference has at most 100 characters."))
            row.reference = text
        elif key == "company":
            row.company = text
        elif key == "language":
            row.identity["language"] = _language(text)
        elif key == "is_representative":
            row.identity["is_representative"] = _boolean(text) == "true"
        elif key in self.fields:
            row.values.append((self.fields[key], self._value(number, key, cell, text)))
        else:
            model_field = Profile._meta.get_field(key)
            row.identity[key] = model_field.clean(text, None)  # type: ignore[union-attr]

    def _value(self, number: int, key: str, cell: Cell, text: str) -> Any:
        field = self.fields[key]
        form_field = self.form_fields[key]
        value: Any = text
        match field.type:
            case FieldType.NUMBER:
                if isinstance(cell.value, int | float | Decimal) and not isinstance(
                    cell.value, bool
                ):
                    value = Decimal(str(cell.value))
                else:
                    try:
                        value = parse_number(text, self.decimals.get(number) or ".")
                    except InvalidOperation:
                        raise ValidationError(
                            _("“%(value)s” is not a number.") % {"value": text}
                        ) from None
            case FieldType.DATE:
                if isinstance(cell.value, dt.date):
                    value = cell.value
                else:
                    try:
                        value = parse_date(text, self.date_style)
                    except ValueError:
                        example = dt.date(2027, 1, 31)
                        raise ValidationError(
                            _("“%(value)s” is not a date: write it as %(style)s or %(iso)s.")
                            % {
                                "value": text,
                                "style": example.strftime(
                                    PATTERNS.get(self.date_style, "%d/%m/%Y")
                                ),
                                "iso": example.isoformat(),
                            }
                        ) from None
            case FieldType.CHOICE:
                value = self.choices[key].get(normalised(text))
                if value is None:
                    raise ValidationError(
                        _("“%(value)s” is not one of the choices: %(choices)s.")
                        % {
                            "value": text,
                            "choices": ", ".join(field.choice_label(c) for c in field.choices),
                        }
                    )
            case FieldType.BOOLEAN:
                value = _boolean(text)
        return fieldtypes.to_canonical(field, form_field.clean(value))


def _boolean(text: str) -> str:
    word = normalised(text)
    if word in YES:
        return "true"
    if word in NO:
        return "false"
    raise ValidationError(_("“%(value)s” is neither yes nor no.") % {"value": text})


def _language(text: str) -> str:
    code = _language_names().get(normalised(text))
    if code is not None:
        return code
    raise ValidationError(_("“%(value)s” is not a language of the product.") % {"value": text})


@functools.cache
def _language_names() -> dict[str, str]:
    """A product language's code by its code and its names in every language."""
    from django.utils import translation

    found: dict[str, str] = {}
    for code, name in settings.LANGUAGES:
        found.setdefault(normalised(code), code)
        for language, _label in settings.LANGUAGES:
            with translation.override(language):
                found.setdefault(normalised(str(name)), code)
    return found


def _choices(field: DataField) -> dict[str, str]:
    """A choice field's values by each of their labels, in every language, as compared."""
    found: dict[str, str] = {}
    for value in field.choices:
        labels = {value} | {
            (field.translations or {}).get(code, {}).get("choices", {}).get(value) or ""
            for code, _name in settings.LANGUAGES
        }
        for label in labels:
            if label:
                found.setdefault(normalised(label), str(value))
    return found


def required_missing(kind: str, identity: Mapping[str, Any]) -> list[str]:
    from profiles.actions import REQUIRED

    return [name for name in REQUIRED[Kind(kind)] if not identity.get(name)]
