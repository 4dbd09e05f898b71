"""Conditions on a profile's values ("Risk is High", "Country among FR, BE", "Turnover above
1,000,000", "Date of birth before 1960-01-01"): how they are written, checked and queried.

A condition is plain JSON, `{"field": <data field uuid>, "op": <operator>, "value": …}`, so
that whoever keeps a list of them (an update group's audience) stores, serialises and
validates it whole. `clean_conditions` checks a list against the fields of one type and
returns it in its canonical form, or raises a ValidationError whose messages name the
condition; `ProfileQuerySet.meeting` filters profiles by a clean list.

A condition whose field was archived since matches no profile: a list of conditions only
ever narrows, it never widens because a field went away.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    DateField,
    DecimalField,
    Exists,
    Expression,
    Func,
    OuterRef,
    Q,
    TextField,
)
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from profiles.models import DataField, FieldType, FieldValue

MAX_CONDITIONS = 10
MAX_VALUES = 300
MAX_TEXT = 150

OPERATORS = {
    "eq": _("is"),
    "in": _("is among"),
    "gt": _("is above"),
    "lt": _("is below"),
    "before": _("is before"),
    "after": _("is after"),
}
# Which operators each type of field takes: choices and texts are compared as they are
# stored (a country is a list of codes, or a text holding one), numbers and dates in order.
OPERATORS_OF = {
    FieldType.CHOICE: ("eq", "in"),
    FieldType.TEXT: ("eq", "in"),
    FieldType.EMAIL: ("eq", "in"),
    FieldType.PHONE: ("eq", "in"),
    FieldType.BOOLEAN: ("eq",),
    FieldType.NUMBER: ("gt", "lt"),
    FieldType.DATE: ("before", "after"),
}


class ValueText(Func):
    """A stored JSON scalar as text (no quotes): "High", "42500.50", "2026-03-14"."""

    output_field = TextField()
    template = "CAST(json_extract(%(expressions)s, '$') AS TEXT)"

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="(%(expressions)s #>> '{}')", **extra)


class ValueNumber(Func):
    """A stored number (a decimal string), or NULL for anything that is not one: PostgreSQL
    may evaluate the comparison on another field's rows before the field's own filter."""

    output_field = DecimalField()
    template = "CAST(json_extract(%(expressions)s, '$') AS REAL)"

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = (
            "(CASE WHEN (%(expressions)s #>> '{}') ~ '^-?[0-9]+(\\.[0-9]+)?$' "
            "THEN (%(expressions)s #>> '{}')::numeric END)"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


class ValueDate(Func):
    """A stored date (ISO text), or NULL for anything that is not one. ISO dates compare as
    text, which is how SQLite keeps and binds dates."""

    output_field = DateField()
    template = "CAST(json_extract(%(expressions)s, '$') AS TEXT)"

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = (
            "(CASE WHEN (%(expressions)s #>> '{}') ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' "
            "THEN (%(expressions)s #>> '{}')::date END)"
        )
        return self.as_sql(compiler, connection, template=template, **extra)


def _error(index: int, message: str) -> ValidationError:
    return ValidationError(
        gettext("Condition %(n)s: %(message)s") % {"n": index + 1, "message": message},
        code="invalid",
    )


def clean_conditions(raw: Any, fields: Iterable[DataField]) -> list[dict[str, Any]]:
    """`raw` checked against `fields` (the active fields of the type the conditions are for)
    and returned in canonical form; a ValidationError lists what is wrong, condition by
    condition."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise ValidationError(gettext("Enter a list of conditions."), code="invalid")
    if len(raw) > MAX_CONDITIONS:
        raise ValidationError(
            gettext("At most %(n)s conditions.") % {"n": MAX_CONDITIONS}, code="invalid"
        )
    by_uuid = {str(field.uuid): field for field in fields}
    cleaned, errors = [], []
    for index, condition in enumerate(raw):
        try:
            cleaned.append(_clean_one(index, condition, by_uuid))
        except ValidationError as error:
            errors.append(error)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _clean_one(index: int, condition: Any, by_uuid: dict[str, DataField]) -> dict[str, Any]:
    if not isinstance(condition, dict) or set(condition) - {"field", "op", "value"}:
        raise _error(index, gettext("give a field, an operator and a value."))
    field = by_uuid.get(str(condition.get("field", "")).strip().lower())
    if field is None:
        raise _error(index, gettext("this data field is not one of this type's."))
    op = condition.get("op")
    allowed = OPERATORS_OF.get(FieldType(field.type), ())
    if not allowed:
        raise _error(
            index,
            gettext("“%(label)s” cannot be compared (a document).") % {"label": field.label},
        )
    if op not in allowed:
        raise _error(
            index,
            gettext("“%(label)s” takes these operators: %(ops)s.")
            % {"label": field.label, "ops": ", ".join(str(OPERATORS[o]) for o in allowed)},
        )
    value = condition.get("value")
    if op == "in":
        values = value if isinstance(value, list) else None
        if not values or len(values) > MAX_VALUES:
            raise _error(index, gettext("give from 1 to %(n)s values.") % {"n": MAX_VALUES})
        checked = sorted({_clean_value(index, field, v) for v in values}, key=str)
        return {"field": str(field.uuid), "op": op, "value": checked}
    return {"field": str(field.uuid), "op": op, "value": _clean_value(index, field, value)}


def _clean_value(index: int, field: DataField, value: Any) -> Any:
    match field.type:
        case FieldType.CHOICE:
            if not isinstance(value, str) or value not in field.choices:
                raise _error(
                    index,
                    gettext("“%(value)s” is not a choice of “%(label)s”.")
                    % {"value": str(value)[:MAX_TEXT], "label": field.label},
                )
            return value
        case FieldType.BOOLEAN:
            if not isinstance(value, bool):
                raise _error(index, gettext("enter true or false."))
            return value
        case FieldType.NUMBER:
            try:
                number = Decimal(str(value).strip()) if not isinstance(value, bool) else None
            except InvalidOperation:
                number = None
            if (
                number is None
                or not number.is_finite()
                or abs(number) >= Decimal("1e15")
                or int(number.as_tuple().exponent) < -10
            ):
                raise _error(index, gettext("enter a number."))
            return format(number, "f")
        case FieldType.DATE:
            try:
                day = dt.date.fromisoformat(value) if isinstance(value, str) else None
            except ValueError:
                day = None
            if day is None:
                raise _error(index, gettext("enter a date as YYYY-MM-DD."))
            return day.isoformat()
        case _:
            text = value.strip() if isinstance(value, str) else ""
            if not text or len(text) > MAX_TEXT or "\x00" in text:
                raise _error(
                    index, gettext("enter a text of 1 to %(n)s characters.") % {"n": MAX_TEXT}
                )
            return text


def _value_q(field: DataField, op: str, value: Any) -> Q:
    match op:
        case "eq" if field.type == FieldType.BOOLEAN:
            return Q(value=value)
        case "eq":
            return Q(value_text=value)
        case "in":
            return Q(value_text__in=value)
        case "gt":
            return Q(value_number__gt=Decimal(value))
        case "lt":
            return Q(value_number__lt=Decimal(value))
        case "before":
            return Q(value_date__lt=dt.date.fromisoformat(value))
        case _:
            return Q(value_date__gt=dt.date.fromisoformat(value))


def conditions_q(conditions: Sequence[dict[str, Any]], fields: Iterable[DataField]) -> Q:
    """A profile meeting every one of the clean `conditions` (`fields`: the active fields
    they may name; a condition on any other matches nobody)."""
    by_uuid = {str(field.uuid): field for field in fields}
    q = Q()
    for condition in conditions:
        field = by_uuid.get(condition["field"])
        if field is None:
            return Q(pk__in=[])
        values = FieldValue.objects.filter(profile=OuterRef("pk"), field=field)
        annotations: dict[str, Expression] = {}
        if condition["op"] in ("eq", "in") and field.type != FieldType.BOOLEAN:
            annotations["value_text"] = ValueText("value")
        elif condition["op"] in ("gt", "lt"):
            annotations["value_number"] = ValueNumber("value")
        elif condition["op"] in ("before", "after"):
            annotations["value_date"] = ValueDate("value")
        q &= Q(
            Exists(
                values.annotate(**annotations).filter(
                    _value_q(field, condition["op"], condition["value"])
                )
            )
        )
    return q


def describe(condition: dict[str, Any], fields: Iterable[DataField]) -> str:
    """A condition in words: “Risk is among High, Medium”."""
    field = next((f for f in fields if str(f.uuid) == condition["field"]), None)
    if field is None:
        return gettext("A data field archived since (nobody matches)")
    value = condition["value"]
    values = value if isinstance(value, list) else [value]
    shown = ", ".join(
        field.choice_label(v) if field.type == FieldType.CHOICE else str(v) for v in values
    )
    return f"{field.local_label} {OPERATORS[condition['op']]} {shown}"
