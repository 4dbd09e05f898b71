"""Every data field type in one place: its form field, its canonical stored form, its display.

A value is stored as JSON in its canonical form (text as a string, a number as a decimal
string, a date in ISO format, a boolean, a document as its UUID) so that the current value and
every history row compare and render the same way whatever the type.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any, Protocol

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from organizations import display as house_style
from profiles.models import DOCUMENT_TYPES, DataField, FieldType

# The dates a date field accepts unless it says otherwise: wide enough for a date of birth or
# a company founded long ago and for an expiry far ahead, narrow enough to catch a typed
# year 9999 or 0001. Documented in the README.
MIN_YEAR = 1900
MAX_YEAR = 2200
MAX_TEXT = 500
MAX_LONG_TEXT = 5000
MAX_DIGITS = 20
DECIMAL_PLACES = 6

phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ().\-]{3,29}$",
    _("Enter a phone number: digits, spaces and + ( ) . - only, e.g. +33 6 12 34 56 78."),
)


class DocumentInput(forms.FileInput):
    """A file input that names the document already on file, which an upload replaces."""

    template_name = "profiles/widgets/document_input.html"
    current_document: Any = None
    # The name of a file chosen on a page that comes back with an error elsewhere: a browser
    # cannot put it back in the input, so the page says it must be chosen again.
    chosen_name: str | None = None

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["current_document"] = self.current_document
        context["chosen_name"] = self.chosen_name
        return context


class IsoDateInput(forms.DateInput):
    """A date picker: browsers read and post ISO dates only, whatever the page's language.

    A localized value (17/05/1990 in French) shows an empty picker, which then posts an
    empty value and erases the date; ISO keeps it whatever the language.

    A date the browser cannot read (31/02) is posted empty too: static/js/app.js holds the
    form back while the input is `badInput`, with the message of `data-bad-input`, rendered
    here in the page's language. The server refuses the empty answer anyway.
    """

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        attrs = {
            "data-bad-input": _("This date does not exist. Enter a valid date."),
            **(attrs or {}),
        }
        return super().get_context(name, value, attrs)


def out_of_range(day: dt.date) -> ValidationError | None:
    """The refusal of a date outside MIN_YEAR to MAX_YEAR, naming the range."""
    if MIN_YEAR <= day.year <= MAX_YEAR:
        return None
    return ValidationError(
        _("Enter a date between %(first)s and %(last)s."),
        code="date_range",
        params={"first": MIN_YEAR, "last": MAX_YEAR},
    )


class RangedDateField(forms.DateField):
    """A date within MIN_YEAR to MAX_YEAR, with `min` and `max` on its input.

    `kept` is the date on file: it stays acceptable as it is, so that a value stored before
    the range existed never blocks a form saved untouched.
    """

    def __init__(self, *, kept: dt.date | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("widget", IsoDateInput())
        super().__init__(**kwargs)
        self.kept = kept

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        return {
            **super().widget_attrs(widget),
            "min": f"{MIN_YEAR:04d}-01-01",
            "max": f"{MAX_YEAR:04d}-12-31",
        }

    def validate(self, value: Any) -> None:
        super().validate(value)
        if isinstance(value, dt.date) and value != self.kept:
            error = out_of_range(value)
            if error is not None:
                raise error


class LocalDecimalField(forms.DecimalField):
    """A number written the page language's way: 42 500,50 in French, 42,500.50 in English.

    Django reads the decimal separator of the language but refuses the grouping people type
    (a space in French, a comma in English) unless every number is shown grouped.
    """

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = re.sub(r"[\s\u00a0\u202f]", "", value)
            thousands = str(formats.get_format("THOUSAND_SEPARATOR"))
            decimal = str(formats.get_format("DECIMAL_SEPARATOR"))
            grouped = rf"[-+]?\d{{1,3}}({re.escape(thousands)}\d{{3}})+({re.escape(decimal)}\d*)?"
            # Only a well-formed grouping: in English "1,5" stays an error, never 15.
            if thousands.strip() and thousands != decimal and re.fullmatch(grouped, value):
                value = value.replace(thousands, "")
        return super().to_python(value)


def accept_attribute(field: DataField) -> str:
    return ",".join(DOCUMENT_TYPES[t][0] for t in field.accepted_types if t in DOCUMENT_TYPES)


def form_field(field: DataField, *, required: bool | None = None, value: Any = None) -> forms.Field:
    """The Django form field that edits a value of this data field; `value` is the canonical
    value on file, if any."""
    options: dict[str, Any] = {
        "label": field.local_label,
        "help_text": field.local_help_text,
        "required": field.required if required is None else required,
    }
    match field.type:
        case FieldType.TEXT:
            return forms.CharField(max_length=MAX_TEXT, **options)
        case FieldType.LONG_TEXT:
            return forms.CharField(
                max_length=MAX_LONG_TEXT, widget=forms.Textarea(attrs={"rows": 4}), **options
            )
        case FieldType.NUMBER:
            return LocalDecimalField(
                max_digits=MAX_DIGITS,
                decimal_places=DECIMAL_PLACES,
                localize=True,
                widget=forms.TextInput(attrs={"inputmode": "decimal"}),
                **options,
            )
        case FieldType.DATE:
            return RangedDateField(kept=to_initial(field, value), **options)
        case FieldType.EMAIL:
            return forms.EmailField(max_length=254, **options)
        case FieldType.PHONE:
            return forms.CharField(
                max_length=40,
                validators=[phone_validator],
                widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
                **options,
            )
        case FieldType.CHOICE:
            return forms.ChoiceField(
                choices=[("", "—"), *((c, field.choice_label(c)) for c in field.choices)], **options
            )
        case FieldType.BOOLEAN:
            return forms.TypedChoiceField(
                choices=[("", "—"), ("true", _("Yes")), ("false", _("No"))],
                coerce=lambda v: v == "true",
                empty_value=None,
                **options,
            )
        case FieldType.DOCUMENT:
            # What the field takes is said before the upload, not only in the refusal
            # (profiles.uploads): the formats and size, and that a PDF opens without a password.
            kinds = [str(DOCUMENT_TYPES[t][1]) for t in field.accepted_types if t in DOCUMENT_TYPES]
            hints = [
                str(_("%(types)s, up to %(size)s MB."))
                % {"types": ", ".join(kinds), "size": field.max_size_mb}
            ]
            if "pdf" in field.accepted_types:
                hints.append(str(_("A PDF must open without a password.")))
            options["help_text"] = " ".join(t for t in (options["help_text"], *hints) if t)
            return forms.FileField(
                widget=DocumentInput(attrs={"accept": accept_attribute(field)}), **options
            )
    raise ValueError(f"unknown field type {field.type!r}")


def to_canonical(field: DataField, value: Any) -> Any:
    """The JSON form of a cleaned form value; None (or empty) means no value."""
    if value is None or value == "":
        return None
    match field.type:
        case FieldType.NUMBER:
            # As typed, with its decimals: "42 500,50" is an amount, kept as "42500.50" and
            # shown again as typed. Only the sign of a zero goes: -0,00 is 0,00.
            number = Decimal(value)
            return format(abs(number) if number == 0 else number, "f")
        case FieldType.DATE:
            return value.isoformat()
        case FieldType.BOOLEAN:
            return bool(value)
        case FieldType.TEXT | FieldType.LONG_TEXT | FieldType.EMAIL | FieldType.PHONE:
            return str(value).strip() or None
        case _:
            return value


def same(field: DataField, first: Any, second: Any) -> bool:
    """Whether two canonical values are one value: 42500.5 and 42500.50 are one amount,
    spelled twice, and replacing one by the other changes nothing."""
    if field.type == FieldType.NUMBER and first is not None and second is not None:
        try:
            return Decimal(str(first)) == Decimal(str(second))
        except ArithmeticError:
            return False
    return first == second


def to_initial(field: DataField, value: Any) -> Any:
    """The form's initial value for a stored canonical value."""
    if value is None:
        return None
    match field.type:
        case FieldType.NUMBER:
            return Decimal(value)
        case FieldType.DATE:
            return dt.date.fromisoformat(value)
        case FieldType.BOOLEAN:
            return "true" if value else "false"
        case FieldType.DOCUMENT:
            return None
        case _:
            return value


class Displayed(Protocol):
    """What `display` reads of a field: a DataField, or the profile page's row of one."""

    type: str

    def choice_label(self, value: str) -> str: ...


def display(field: Displayed, value: Any) -> str:
    """A stored value as a person reads it, in the active language."""
    if value is None:
        return ""
    match field.type:
        case FieldType.NUMBER:
            return house_style.number(Decimal(value))
        case FieldType.DATE:
            return house_style.day(dt.date.fromisoformat(value))
        case FieldType.BOOLEAN:
            return str(_("Yes") if value else _("No"))
        case FieldType.CHOICE:
            return field.choice_label(value)
        case _:
            return str(value)
