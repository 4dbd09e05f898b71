from __future__ import annotations

import datetime as dt
from contextlib import suppress
from typing import Any

from dateutil.relativedelta import relativedelta
from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_scopes.forms import SafeModelChoiceField, SafeModelMultipleChoiceField

from monitoring import schedule, services
from monitoring.models import MAX_TRIGGER_DAILY_LIMIT, Cadence, Unit, UpdateGroup, group_of
from profiles.conditions import OPERATORS, OPERATORS_OF, clean_conditions
from profiles.fieldtypes import IsoDateInput, RangedDateField, out_of_range
from profiles.models import DataField, FieldType, Kind
from profiles.texts import in_language, other_languages

PRESETS = [
    ("1-months", _("Every month")),
    ("2-months", _("Every 2 months")),
    ("3-months", _("Every 3 months")),
    ("6-months", _("Every 6 months")),
    ("1-years", _("Every year")),
    ("custom", _("Every N days, weeks, months or years…")),
]


class FieldsWidget(forms.CheckboxSelectMultiple):
    """Lists the fields of the chosen type; one held by another group shows its name, locked."""

    held_by: dict[int, str] = {}
    kind: str | None = None

    def optgroups(self, name, value, attrs=None):
        # The form accepts any field of the organisation, so that one of the other type gets
        # a message saying so; the page lists only those of the chosen type.
        return [
            (group, [o for o in options if o.get("shown", True)], index)
            for group, options, index in super().optgroups(name, value, attrs)
        ]

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        instance = getattr(value, "instance", None)
        if instance is not None and self.kind:
            option["shown"] = instance.applies_to == self.kind
        holder = self.held_by.get(instance.pk) if instance is not None else None
        if holder:
            option["attrs"]["disabled"] = True
            option["label"] = gettext("%(label)s — in “%(group)s”") % {
                "label": label,
                "group": holder,
            }
        return option


class DaysField(forms.CharField):
    """A short list of days, typed "3, 10": a reminder ladder."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(day) for day in value)
        if isinstance(value, str) and value.startswith("["):
            return ", ".join(value.strip("[]").split(","))
        return value

    def to_python(self, value: Any) -> list[int]:  # type: ignore[override]
        # No input gives the empty value, "" here; the stubs allow None (empty_value=None).
        text = super().to_python(value) or ""
        parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
        try:
            days = sorted({int(part) for part in parts})
        except ValueError:
            raise ValidationError(
                _("Enter whole numbers of days separated by commas, e.g. 3, 10."), code="invalid"
            ) from None
        if len(days) > 5 or any(not 1 <= day <= 90 for day in days):
            raise ValidationError(_("Up to five reminders, each from 1 to 90 days."), code="range")
        return days


# Rows of conditions the form offers; the API takes up to profiles.conditions.MAX_CONDITIONS.
AUDIENCE_ROWS = 3


def _typed_value(field: DataField, op: str, text: str) -> Any:
    """A condition's value as typed in the form, in the JSON the conditions take: a list for
    "among" (comma-separated), a number or date as typed in either language."""
    text = text.strip()
    if op == "in":
        return [part.strip() for part in text.split(",") if part.strip()]
    if field.type == FieldType.NUMBER:
        return text.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    if field.type == FieldType.DATE:
        for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%Y"):
            with suppress(ValueError):
                return dt.datetime.strptime(text, pattern).date().isoformat()
        return text
    if field.type == FieldType.BOOLEAN:
        return {"true": True, "false": False}.get(text.lower(), text)
    return text


class TiersField(forms.CharField):
    """The tiers of a tiered group, one a line: "High: 12" (a choice, then months)."""

    widget = forms.Textarea(attrs={"rows": 4})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 4000)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(
                f"{entry.get('value')}: {entry.get('months')}"
                for entry in value
                if isinstance(entry, dict)
            )
        return value

    def to_python(self, value: Any) -> list[dict[str, Any]]:  # type: ignore[override]
        text = super().to_python(value) or ""
        tiers = []
        for line in text.splitlines():
            if not line.strip():
                continue
            choice, colon, months = line.rpartition(":")
            try:
                number = int(months.strip())
            except ValueError:
                number = None
            if not colon or not choice.strip() or number is None:
                raise ValidationError(
                    _("Write one tier a line: the choice, a colon, then months (High: 12)."),
                    code="invalid",
                )
            tiers.append({"value": choice.strip(), "months": number})
        return tiers


class UpdateGroupForm(forms.ModelForm):
    fields = SafeModelMultipleChoiceField(
        queryset=DataField.objects.none(),
        label=_("Data fields"),
        widget=FieldsWidget,
        help_text=_("A field belongs to one group at most."),
    )
    frequency = forms.ChoiceField(label=_("Frequency"), choices=PRESETS, initial="1-months")
    trigger_fields = SafeModelMultipleChoiceField(
        queryset=DataField.objects.none(),
        label=_("Trigger fields"),
        widget=FieldsWidget,
        required=False,
        help_text=_(
            "A change of one of these fields, whoever makes it, asks the profile for this "
            "group's fields at once (a new address, a raised risk). Not the group's own fields."
        ),
    )

    class Meta:
        model = UpdateGroup
        fields = [
            "title",
            "message",
            "applies_to",
            "start_date",
            "interval_count",
            "interval_unit",
            "cadence",
            "tier_field",
            "tiers",
            "review_required",
            "extend_expiry",
            "remind_after",
            "remind_before",
            "trigger_daily_limit",
            "spread_days",
        ]
        widgets = {"start_date": IsoDateInput(), "message": forms.Textarea(attrs={"rows": 3})}
        labels = {"interval_count": _("Every N"), "interval_unit": _("Unit")}
        help_texts = {
            "cadence": _(
                "Calendar: everyone on the group's dates. Rolling: each client one interval "
                "after their last answer. Tiered: the interval follows the client's tier, the "
                "frequency above standing for clients without one."
            ),
            "start_date": _("The first update date; the next ones follow from it."),
            "interval_count": _("Only for “Every N days, weeks, months or years”."),
            "spread_days": _(
                "1: every request goes out on the update date. More: each client is asked on "
                "the same working day of that window every time."
            ),
        }

    tier_field = SafeModelChoiceField(
        queryset=DataField.objects.none(),
        label=_("Tier field"),
        required=False,
        help_text=_("Tiered only: the list field whose value sets the interval (e.g. Risk)."),
    )
    tiers = TiersField(
        label=_("Interval of each tier (months)"),
        help_text=_("Tiered only: one a line, e.g. High: 12, Medium: 36, Low: 60."),
    )

    remind_after = DaysField(
        label=_("Remind after sending (days)"),
        help_text=_("E.g. 3, 10: a reminder 3 and 10 days after the request went out."),
    )
    remind_before = DaysField(
        label=_("Remind before closing (days)"),
        help_text=_("E.g. 2: a reminder 2 days before the request closes. Empty: none."),
    )

    field_order = [
        "title",
        "message",
        "applies_to",
        "fields",
        "start_date",
        "frequency",
        "interval_count",
        "interval_unit",
    ]

    def __init__(self, *args: Any, organization: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.organization = organization
        default = organization.default_language
        self.languages = other_languages(default)
        self.fields["title"].label = in_language(_("Title"), default)
        self.fields["message"].label = in_language(_("Message to the clients"), default)
        for code, _name in self.languages:
            self.fields[f"title_{code}"] = forms.CharField(
                label=in_language(_("Title"), code), max_length=150, required=False
            )
            self.fields[f"message_{code}"] = forms.CharField(
                label=in_language(_("Message to the clients"), code),
                max_length=2000,
                required=False,
                widget=forms.Textarea(attrs={"rows": 3}),
            )
            for name in ("title", "message"):
                self.initial.setdefault(f"{name}_{code}", self.instance.translation_of(code, name))
        fields = list(
            DataField.objects.active()
            .filter(organization=organization)
            .select_related("group_membership__group")
            .order_by("applies_to", "position", "id")
        )
        own = self.instance.pk
        self.kind = self._chosen_kind()
        groups = {f.pk: group_of(f) for f in fields}
        self.held_by = {
            pk: group.local_title for pk, group in groups.items() if group and group.pk != own
        }
        choice_field = self.fields["fields"]
        choice_field.queryset = (
            DataField.objects.active()
            .filter(organization=organization)
            .order_by("applies_to", "position", "id")
        )
        choice_field.widget.held_by = self.held_by
        choice_field.widget.kind = self.kind
        choice_field.label_from_instance = lambda f: f.local_label
        self.fields["spread_days"].required = False
        self.fields["spread_days"].widget.attrs.update(min=1, max=250)
        self._add_audience_rows(fields)
        tier_field = self.fields["tier_field"]
        # Any active field is accepted, so that another kind gets the action's message; the
        # list offers the list fields.
        tier_field.queryset = DataField.objects.active().filter(organization=organization)
        tier_field.widget.choices = [
            ("", "—"),
            *(
                (f.pk, f.local_label)
                for f in fields
                if f.type == FieldType.CHOICE and f.applies_to == self.kind
            ),
        ]
        # Absent from an older page or client: the group keeps its cadence.
        self.fields["cadence"].required = False
        self.fields["frequency"].widget.attrs["data-frequency"] = ""
        # Asked for only with a custom frequency; a preset sets both.
        self.fields["interval_count"].required = False
        self.fields["interval_unit"].required = False
        self.fields["interval_count"].widget.attrs.update(min=1, max=1000)
        triggers = self.fields["trigger_fields"]
        triggers.queryset = choice_field.queryset
        triggers.widget.kind = self.kind
        triggers.label_from_instance = lambda f: f.local_label
        limit = self.fields["trigger_daily_limit"]
        limit.widget.attrs.update(min=1, max=MAX_TRIGGER_DAILY_LIMIT)
        # Left out (a form posted before the field existed, a script): the limit on file.
        limit.required = False
        if own:
            self.initial.setdefault(
                "fields", [pk for pk, group in groups.items() if group and group.pk == own]
            )
            self.initial.setdefault(
                "trigger_fields",
                list(self.instance.triggers.values_list("field_id", flat=True)),
            )
            preset = f"{self.instance.interval_count}-{self.instance.interval_unit}"
            self.initial.setdefault("frequency", preset if preset in dict(PRESETS) else "custom")

    def _add_audience_rows(self, fields: list[DataField]) -> None:
        """Up to AUDIENCE_ROWS conditions: a field of the chosen type, an operator, a value."""
        self.audience_fields = [
            f for f in fields if f.applies_to == self.kind and f.type in OPERATORS_OF
        ]
        stored = self.instance.audience if self.instance.pk else []
        field_choices = [("", gettext("— nobody filtered —"))] + [
            (str(f.uuid), f.local_label) for f in self.audience_fields
        ]
        for i in range(AUDIENCE_ROWS):
            self.fields[f"audience_field_{i}"] = forms.ChoiceField(
                label=_("Data field"), choices=field_choices, required=False
            )
            self.fields[f"audience_op_{i}"] = forms.ChoiceField(
                label=_("Condition"), choices=list(OPERATORS.items()), required=False
            )
            self.fields[f"audience_value_{i}"] = forms.CharField(
                label=_("Value"),
                required=False,
                max_length=2000,
                help_text=_("Several values separated by commas for “is among”."),
            )
            if i < len(stored) and not self.is_bound:
                condition = stored[i]
                value = condition["value"]
                self.initial.setdefault(f"audience_field_{i}", condition["field"])
                self.initial.setdefault(f"audience_op_{i}", condition["op"])
                self.initial.setdefault(
                    f"audience_value_{i}",
                    ", ".join(str(v) for v in value)
                    if isinstance(value, list)
                    else str(value).lower()
                    if isinstance(value, bool)
                    else value,
                )

    def audience_rows(self) -> list[tuple[Any, Any, Any]]:
        return [
            (
                self[f"audience_field_{i}"],
                self[f"audience_op_{i}"],
                self[f"audience_value_{i}"],
            )
            for i in range(AUDIENCE_ROWS)
        ]

    def typed_audience(self) -> tuple[list[dict[str, Any]], dict[int, list[str]]]:
        """The conditions typed, clean, and the messages of those that are not (by row)."""
        values = self.data if self.is_bound else self.initial
        by_uuid = {str(f.uuid): f for f in self.audience_fields}
        conditions, errors = [], {}
        for i in range(AUDIENCE_ROWS):
            chosen = str(values.get(f"audience_field_{i}") or "")
            if not chosen:
                continue
            op = str(values.get(f"audience_op_{i}") or "")
            field = by_uuid.get(chosen)
            typed = str(values.get(f"audience_value_{i}") or "")
            raw = {
                "field": chosen,
                "op": op,
                "value": _typed_value(field, op, typed) if field is not None else typed,
            }
            try:
                conditions += clean_conditions([raw], self.audience_fields)
            except ValidationError as error:
                # "Condition 1: …" names the list's first; the row is named by its place.
                errors[i] = [
                    message.split(": ", 1)[-1] if ": " in message else message
                    for message in error.messages
                ]
        return conditions, errors

    def typed_spread(self) -> int:
        values = self.data if self.is_bound else self.initial
        try:
            return max(1, int(values.get("spread_days") or self.instance.spread_days or 1))
        except (TypeError, ValueError):
            return 1

    def text_rows(self) -> list[list[Any]]:
        """Each text's fields side by side, the organisation's default language first."""
        return [
            [self[name], *(self[f"{name}_{code}"] for code, _name in self.languages)]
            for name in ("title", "message")
        ]

    def _chosen_kind(self) -> str:
        chosen = self.data.get("applies_to") if self.is_bound else self.initial.get("applies_to")
        if chosen in Kind.values:
            return chosen
        return self.instance.applies_to or Kind.CONTACT

    def interval(self) -> tuple[int, str] | None:
        """The (count, unit) of the chosen frequency, read before validation, for a preview."""
        values = self.data if self.is_bound else self.initial
        frequency = values.get("frequency")
        if frequency and frequency != "custom" and frequency in dict(PRESETS):
            count, unit = frequency.split("-")
            return int(count), unit
        if frequency == "custom":
            try:
                count = int(values.get("interval_count") or "")
            except ValueError:
                return None
            unit = values.get("interval_unit")
            if 1 <= count <= 1000 and unit in Unit.values:
                return count, unit
            return None
        return self.instance.interval_count, self.instance.interval_unit

    def start_refusal(self, start: dt.date, count: int, unit: str) -> tuple[str, str] | None:
        """(form field, message) refusing this start and interval, or None: the one check of
        both the form and its preview, so the preview never lists dates the form refuses."""
        today = timezone.now().astimezone(self.instance.organization.tzinfo).date()
        if start > today + relativedelta(years=schedule.HORIZON_YEARS):
            return "start_date", gettext("Choose a start within the next 100 years.")
        error = out_of_range(start)  # in effect, a start before 1900
        if error is not None:
            return "start_date", " ".join(error.messages)
        if not schedule.within_calendar(start, count, unit, today):
            return "frequency", gettext(
                "With this start, the dates would run past the year 9999 within 100 years."
            )
        return None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        frequency = data.get("frequency")
        if frequency and frequency != "custom":
            count, unit = frequency.split("-")
            data["interval_count"], data["interval_unit"] = int(count), unit
            self.instance.interval_count, self.instance.interval_unit = int(count), unit
        elif frequency == "custom":
            count = data.get("interval_count")
            if not count or not 1 <= count <= 1000:
                self.add_error("interval_count", _("Enter a number from 1 to 1000."))
            if not data.get("interval_unit"):
                self.add_error("interval_unit", _("Choose days, weeks, months or years."))
        if not data.get("cadence"):
            data["cadence"] = self.instance.cadence or Cadence.CALENDAR
        if data["cadence"] != Cadence.TIERED:
            # Tiers typed and then left for another cadence are not the group's: not refused.
            # Read during full_clean, `errors` is the dict being filled, not a new validation.
            self.errors.pop("tiers", None)
            self.errors.pop("tier_field", None)
            data["tiers"], data["tier_field"] = [], None
        for code, _name in self.languages:
            for name in ("title", "message"):
                self.instance.set_translation(code, name, data.get(f"{name}_{code}"))
        start, count, unit = (
            data.get(n) for n in ("start_date", "interval_count", "interval_unit")
        )
        if start and count and unit and 1 <= count <= 1000:
            refusal = self.start_refusal(start, count, unit)
            if refusal:
                self.add_error(*refusal)
        if data.get("trigger_daily_limit") is None and "trigger_daily_limit" not in self.errors:
            data["trigger_daily_limit"] = self.instance.trigger_daily_limit
        if data.get("spread_days") is None:
            data["spread_days"] = self.instance.spread_days = 1
        elif count and unit and "spread_days" not in self.errors:
            spread_refusal = services.spread_refusal(data["spread_days"], count, unit)
            if spread_refusal:
                self.add_error("spread_days", spread_refusal)
        conditions, errors = self.typed_audience()
        for row, messages in errors.items():
            self.add_error(f"audience_value_{row}", messages)
        self.instance.audience = conditions
        # Whether the chosen fields may join the group, or trigger it, is the action's rule
        # (`save_group`).
        return data


class ExpiryForm(forms.Form):
    """The pop-up's "Save": a date is required. A date the browser could not read (31/02)
    arrives empty, so an empty answer is refused, never taken as "no expiry date"; clearing
    has its own button."""

    expires_on = RangedDateField(
        label=_("Expiry date"),
        error_messages={
            "required": _(
                "Enter a valid expiry date. To remove the one on file, use “Clear the expiry date”."
            )
        },
    )

    def __init__(self, *args: Any, kept: dt.date | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expires_on"].kept = kept  # type: ignore[attr-defined]
