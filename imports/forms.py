from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from imports import reading
from imports.mapping import Target
from profiles.models import Kind


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=Kind.choices)
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (separated by commas, semicolons or tabs) or Excel workbook (.xlsx)."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if (upload.size or 0) > reading.MAX_FILE_BYTES:
            raise forms.ValidationError(reading.too_large())
        return upload


DECIMALS = [("", "—"), (",", _("Decimal comma: 1 234,50")), (".", _("Decimal point: 1,234.50"))]


class MappingForm(forms.Form):
    """A select per column (what it fills, or nothing) and, for number columns the file does
    not settle, which decimal mark it uses."""

    save_as = forms.CharField(label=_("Save this mapping as"), max_length=100, required=False)
    # Contacts only: a box left unchecked arrives absent, which is "no".
    create_companies = forms.BooleanField(
        label=_("Create the companies this file names that are not on file yet"),
        help_text=_(
            "For a file of contacts with their company: each company it names is matched by "
            "its reference, else by its name, and created under that name when none matches."
        ),
        required=False,
    )
    # Companies only: what matches a row that gives no reference.
    match_field = forms.ChoiceField(
        label=_("Match companies without a reference by"),
        help_text=_(
            "A row without a reference updates the company holding the same value; when two "
            "companies hold it, the row is refused rather than guessed."
        ),
        required=False,
    )

    def __init__(
        self,
        *args: Any,
        headers: list[str],
        targets: list[Target],
        initial_mapping: dict[int, str],
        ambiguous: list[int],
        kind: str = Kind.CONTACT,
        match_choices: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        """`match_choices`: (uuid, label) of the text fields of companies that may match."""
        super().__init__(*args, **kwargs)
        if kind != Kind.CONTACT:
            del self.fields["create_companies"]
        if kind == Kind.COMPANY:
            match = self.fields["match_field"]
            assert isinstance(match, forms.ChoiceField)
            match.choices = [("", _("Registration number")), *(match_choices or [])]
        else:
            del self.fields["match_field"]
        self.headers = headers
        self.ambiguous = ambiguous
        choices = [("", _("— not imported —"))] + [(t.key, t.label) for t in targets]
        for number, heading in enumerate(headers):
            self.fields[f"c{number}"] = forms.ChoiceField(
                label=heading or _("Column %(n)s") % {"n": number + 1},
                choices=choices,
                required=False,
                initial=initial_mapping.get(number, ""),
            )
        for number in ambiguous:
            self.fields[f"d{number}"] = forms.ChoiceField(
                label=_("Numbers of “%(column)s”") % {"column": headers[number]},
                choices=DECIMALS,
                help_text=_("The file writes them both ways: say which mark is the decimal one."),
            )

    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"c{n}"] for n in range(len(self.headers))]

    def decimal_fields(self) -> list[forms.BoundField]:
        return [self[f"d{n}"] for n in self.ambiguous]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        seen: dict[str, str] = {}
        for number in range(len(self.headers)):
            key = cleaned.get(f"c{number}")
            if key:
                if key in seen:
                    self.add_error(
                        f"c{number}",
                        _("“%(other)s” already goes there: each target takes one column.")
                        % {"other": seen[key]},
                    )
                seen[key] = self.headers[number]
        chosen = cleaned.get("match_field")
        if chosen and f"field:{chosen}" not in seen:
            self.add_error(
                "match_field",
                _(
                    "No column goes to this field: map the column that holds it, or match by "
                    "the registration number."
                ),
            )
        return cleaned

    def columns(self) -> dict[int, str]:
        return {n: self.cleaned_data[f"c{n}"] for n in range(len(self.headers))}

    def decimals(self) -> dict[int, str]:
        return {n: self.cleaned_data[f"d{n}"] for n in self.ambiguous}
