from __future__ import annotations

import hashlib
import json
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_scopes.forms import SafeModelChoiceField

from profiles import fieldtypes
from profiles.models import (
    DOCUMENT_TYPES,
    DataField,
    FieldType,
    FieldValue,
    Kind,
    Profile,
    field_in_use,
)
from profiles.texts import in_language, other_languages
from profiles.uploads import check_upload


class ContactForm(forms.ModelForm):
    # Declared so the class builds without a tenant scope; the queryset is set per request.
    company = SafeModelChoiceField(
        queryset=Profile.objects.none(), required=False, label=_("company")
    )

    class Meta:
        model = Profile
        fields = [
            "first_name",
            "last_name",
            "email",
            "phone",
            "language",
            "company",
            "is_representative",
        ]
        widgets = {"phone": forms.TextInput(attrs={"type": "tel"})}

    def __init__(self, *args: Any, organization: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.organization = organization
        self.instance.kind = Kind.CONTACT
        if self.instance.pk is None:
            self.fields["language"].initial = organization.default_language
        company = self.fields["company"]
        assert isinstance(company, forms.ModelChoiceField)
        company.queryset = (
            Profile.objects.active()
            .filter(organization=organization, kind=Kind.COMPANY)
            .order_by("name")
        )
        self.fields["last_name"].required = True
        self.fields["email"].required = True
        self.fields["phone"].validators.append(fieldtypes.phone_validator)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if data.get("is_representative") and not data.get("company"):
            self.add_error("is_representative", _("Choose the company this contact represents."))
        return data


class CompanyForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["name", "registration_number", "address"]
        widgets = {"address": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: Any, organization: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.organization = organization
        self.instance.kind = Kind.COMPANY
        self.fields["name"].required = True


def profile_form_class(kind: str) -> type[ContactForm] | type[CompanyForm]:
    return CompanyForm if kind == Kind.COMPANY else ContactForm


class DataFieldForm(forms.ModelForm):
    choices_text = forms.CharField(
        label=_("Choices"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For a list: one choice per line."),
    )
    accepted_types = forms.MultipleChoiceField(
        label=_("Accepted file types"),
        required=False,
        choices=[(key, label) for key, (_mime, label) in DOCUMENT_TYPES.items()],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("For a document. The file's content is checked, not only its name."),
    )

    class Meta:
        model = DataField
        fields = ["label", "type", "help_text", "section", "required", "max_size_mb"]

    def __init__(self, *args: Any, organization: Any, applies_to: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.organization = organization
        self.instance.applies_to = applies_to
        self.languages = other_languages(organization.default_language)
        self._add_translation_fields()
        self.fields["type"].widget.attrs["data-field-type"] = ""
        max_size = self.fields["max_size_mb"]
        assert isinstance(max_size, forms.IntegerField)
        max_size.help_text = _("For a document.")
        max_size.min_value = 1
        max_size.max_value = 50
        max_size.widget.attrs.update(min=1, max=50)
        self.initial.setdefault("choices_text", "\n".join(self.instance.choices or []))
        self.initial.setdefault("accepted_types", self.instance.accepted_types)
        if self.instance.pk and field_in_use(self.instance):
            # Values already stored were validated for this type; changing it would strand them.
            self.fields["type"].disabled = True
            self.fields["type"].help_text = _("The type cannot change once values are stored.")

    # The texts typed in each language: (field of the default language, its label).
    TEXTS = (
        ("label", _("Label")),
        ("help_text", _("Help text")),
        ("section", _("Section")),
        ("choices", _("Choices")),
    )

    def _add_translation_fields(self) -> None:
        """Label, help text, section and choice labels in each of the organisation's languages,
        each named with its language, the default one first."""
        default = self.instance.organization.default_language
        for name, text in self.TEXTS:
            self.fields["choices_text" if name == "choices" else name].label = in_language(
                text, default
            )
        for code, _name in self.languages:
            self.fields[f"label_{code}"] = forms.CharField(
                label=in_language(_("Label"), code), max_length=150, required=False
            )
            self.fields[f"help_text_{code}"] = forms.CharField(
                label=in_language(_("Help text"), code), max_length=300, required=False
            )
            self.fields[f"section_{code}"] = forms.CharField(
                label=in_language(_("Section"), code), max_length=80, required=False
            )
            self.fields[f"choices_{code}"] = forms.CharField(
                label=in_language(_("Choices"), code),
                required=False,
                widget=forms.Textarea(attrs={"rows": 4}),
                help_text=_(
                    "For a list: one label per line, in the order of the choices. The value "
                    "stored stays the choice itself, whatever the reader's language."
                ),
            )
            for name in ("label", "help_text", "section"):
                self.initial.setdefault(f"{name}_{code}", self.instance.translation_of(code, name))
            labels = self.instance.translation_of(code, "choices") or {}
            self.initial.setdefault(
                f"choices_{code}",
                "\n".join(labels.get(c, "") for c in self.instance.choices or []).rstrip("\n"),
            )

    def text_rows(self) -> list[tuple[str, list[Any]]]:
        """(name, bound fields) of each text, side by side, the default language first."""
        rows = []
        for name, _text in self.TEXTS:
            first = self["choices_text" if name == "choices" else name]
            rows.append((name, [first, *(self[f"{name}_{code}"] for code, _ in self.languages)]))
        return rows

    def _clean_translations(self, choices: list[str], is_list: bool) -> None:
        for code, _name in self.languages:
            self.instance.set_translation(code, "label", self.cleaned_data.get(f"label_{code}"))
            for name in ("help_text", "section"):
                self.instance.set_translation(code, name, self.cleaned_data.get(f"{name}_{code}"))
            lines = [c.strip() for c in self.cleaned_data.get(f"choices_{code}", "").splitlines()]
            while lines and not lines[-1]:
                lines.pop()
            if is_list and len(lines) > len(choices):
                self.add_error(
                    f"choices_{code}", _("Give one label per choice, in the same order.")
                )
            labels = {value: label for value, label in zip(choices, lines, strict=False) if label}
            self.instance.set_translation(code, "choices", labels if is_list else None)

    def clean_max_size_mb(self) -> int:
        size = self.cleaned_data["max_size_mb"]
        if not 1 <= size <= 50:
            raise ValidationError(_("Choose a size between 1 and 50 MB."))
        return size

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        kind = data.get("type")
        choices = [c.strip() for c in data.get("choices_text", "").splitlines() if c.strip()]
        if kind == FieldType.CHOICE:
            if not choices:
                self.add_error("choices_text", _("A list needs at least one choice."))
            elif len(set(choices)) != len(choices):
                self.add_error("choices_text", _("Each choice must appear once."))
            elif any(len(c) > 200 for c in choices):
                self.add_error("choices_text", _("A choice is at most 200 characters long."))
        if kind == FieldType.DOCUMENT and not data.get("accepted_types"):
            self.add_error("accepted_types", _("Accept at least one file type."))
        self.instance.choices = choices if kind == FieldType.CHOICE else []
        self._clean_translations(choices, kind == FieldType.CHOICE)
        if data.get("accepted_types"):
            self.instance.accepted_types = data["accepted_types"]
        return data


class DataFieldsForm(forms.Form):
    """Values of data fields, one form field each, named by the field's UUID (stable, and no
    sequential id in the page); uploads are checked by their content.

    The base of the staff values form and of the client portal, so both read, check and
    store a value the same way.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_fields: dict[str, DataField] = {}

    def add_data_field(
        self,
        field: DataField,
        *,
        value: Any,
        document: Any = None,
        required: bool,
    ) -> str:
        name = f"f_{field.uuid.hex}"
        form_field = fieldtypes.form_field(
            field, required=required, value=None if field.is_document else value
        )
        if field.is_document:
            form_field.widget.current_document = document
        elif value is not None:
            self.initial[name] = fieldtypes.to_initial(field, value)
        self.fields[name] = form_field
        self.data_fields[name] = field
        return name

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        for name, field in self.data_fields.items():
            upload = data.get(name)
            if field.is_document and upload:
                try:
                    upload.sniffed_content_type = check_upload(field, upload)
                except ValidationError as error:
                    self.add_error(name, error)
        return data


def shown_token(value: Any) -> str:
    """A short digest of a canonical value (None included), which a page carries to say
    what it showed: the value itself may be long, and is already in the page."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


class ValuesForm(DataFieldsForm):
    """Edits a profile's values of the given fields; documents are replaced by uploading.

    An emptied input is never a removal: a value on file goes only through its own "Remove
    this value" box (`r_<uuid>`), and an empty input over a value is an error on its field
    (a date the browser could not read, 31/02, arrives empty too). An empty input of a field
    without a value leaves it without one.

    The page carries what it showed of each value (`s_<uuid>`, `shown_token`), because the
    value on file may have changed since it was opened: a field posted as shown is untouched
    (a stale page never reverts a colleague's edit), and a change or a removal of a value
    that changed since is refused on its field, nothing of the form written. A post without
    it (an older page) is compared with the value on file.
    """

    def __init__(
        self,
        *args: Any,
        fields: list[DataField],
        values: dict[int, FieldValue],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # Mutable: a page that comes back after a refusal shows what is on file now.
        self.page: dict[str, Any] | QueryDict = (
            self.data.copy() if isinstance(self.data, QueryDict) else dict(self.data)
        )
        self.data = self.page
        self.on_file: dict[str, FieldValue] = {}
        self.removal_names: dict[str, str] = {}
        self.shown_names: dict[str, str] = {}
        for field in fields:
            value = values.get(field.pk)
            # A document already on file satisfies "required" for staff: nothing to re-upload.
            name = self.add_data_field(
                field,
                value=value.value if value is not None else None,
                document=value.document if value is not None else None,
                required=field.required and not (field.is_document and value is not None),
            )
            shown = f"s_{field.uuid.hex}"
            self.fields[shown] = forms.CharField(required=False, widget=forms.HiddenInput)
            # Read raw by clean(): whatever it holds, the refusal is on the field it names.
            self.fields[shown].validators = []
            self.initial[shown] = shown_token(value.value if value is not None else None)
            self.shown_names[name] = shown
            if value is None or value.value is None:
                continue
            self.on_file[name] = value
            if field.type == FieldType.CHOICE and value.value not in field.choices:
                self._keep_choice(name, field, value.value)
            if not field.required:
                # A required field keeps a value: it can be changed, not removed.
                removal = f"r_{field.uuid.hex}"
                self.fields[removal] = forms.BooleanField(
                    label=_("Remove this value"),
                    required=False,
                    widget=forms.CheckboxInput(attrs={"data-removal": field.local_label}),
                )
                self.removal_names[name] = removal

    def _keep_choice(self, name: str, field: DataField, value: str) -> None:
        """A choice taken off the list since it was stored stays acceptable as it is, like a
        date outside today's range: it is not lost, and never blocks the other fields."""
        form_field = self.fields[name]
        assert isinstance(form_field, forms.ChoiceField)
        label = _("%(choice)s (no longer on the list)") % {"choice": field.choice_label(value)}
        # The field was built from a list of pairs (fieldtypes.form_field).
        choices = cast(list[tuple[str, str]], form_field.choices)
        form_field.choices = [*choices, (value, str(label))]

    def rows(self) -> list[tuple[Any, Any]]:
        """(bound field, bound "Remove this value" box or None), in the form's order."""
        return [
            (self[name], self[self.removal_names[name]] if name in self.removal_names else None)
            for name in self.data_fields
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.removals: list[DataField] = []
        self.untouched: set[str] = set()
        for name, field in self.data_fields.items():
            current = self._current(name)
            # None: a page that does not say what it showed.
            shown = self.data.get(self.shown_names[name], None)
            moved = shown is not None and shown != shown_token(current)
            if data.get(self.removal_names.get(name, "")):
                # What was typed over a value being removed does not matter any more.
                self.errors.pop(name, None)
                data.pop(name, None)
                if moved:
                    self._refuse_moved(name, field, removal=True)
                else:
                    self.removals.append(field)
                continue
            if name in self.errors:
                continue
            if not self._touched(name, field, shown):
                self.untouched.add(name)
                if moved:
                    # The page showed an older value: it shows the one on file from now on.
                    self._show_current(name, field)
                continue
            if moved:
                self._refuse_moved(name, field, removal=False)
                continue
            # A required field's empty input has had its "required" error already.
            emptied = fieldtypes.to_canonical(field, data.get(name)) is None
            if name in self.on_file and not field.is_document and emptied:
                self.add_error(name, self._emptied_message(field))
        if self.errors:
            for name in self.data_fields:
                widget = self.fields[name].widget
                if (
                    data.get(name)
                    and name not in self.errors
                    and isinstance(widget, fieldtypes.DocumentInput)
                ):
                    widget.chosen_name = data[name].name
        return data

    def _current(self, name: str) -> Any:
        value = self.on_file.get(name)
        return value.value if value is not None else None

    def _touched(self, name: str, field: DataField, shown: str | None) -> bool:
        """Whether the member changed the field: uploaded a file, or posted another value
        than the page showed (than the value on file, for a page that does not say)."""
        if field.is_document:
            return bool(self.cleaned_data.get(name))
        if shown is None:
            return name in self.changed_data
        return shown_token(fieldtypes.to_canonical(field, self.cleaned_data.get(name))) != shown

    def _refuse_moved(self, name: str, field: DataField, *, removal: bool) -> None:
        """Refuses a change or removal of a value changed since the page was opened. The page
        that comes back says what is on file now, so posting it again is a deliberate act."""
        value = self.on_file.get(name)
        message: str
        if value is None:
            message = gettext(
                "Removed by someone else since you opened this page. Check it, then save "
                "again if you still mean to enter this value."
            )
        else:
            now = value.document.name if value.document else fieldtypes.display(field, value.value)
            if removal:
                message = gettext(
                    "Changed by someone else since you opened this page: it now reads "
                    "“%(value)s”. Check it, then remove it again if you still mean to."
                ) % {"value": now}
            else:
                message = gettext(
                    "Changed by someone else since you opened this page: it now reads "
                    "“%(value)s”. Check it, then save again if you still mean to change it."
                ) % {"value": now}
        self.add_error(name, str(message))
        if removal:
            self.page.pop(self.removal_names[name], None)
            self._show_current(name, field)
        else:
            # What was typed stays, over what is on file now.
            self.page[self.shown_names[name]] = shown_token(self._current(name))

    def _show_current(self, name: str, field: DataField) -> None:
        """Puts the value on file in the page, as the browser would post it back."""
        self.page[self.shown_names[name]] = shown_token(self._current(name))
        if field.is_document:
            return
        form_field = self.fields[name]
        initial = fieldtypes.to_initial(field, self._current(name))
        posted = form_field.widget.format_value(form_field.prepare_value(initial))
        if isinstance(posted, list):
            # A select formats its selection as a list.
            posted = posted[0] if posted else ""
        self.page[name] = posted or ""

    def _emptied_message(self, field: DataField) -> str:
        if field.type == FieldType.DATE:
            return str(
                _(
                    "Enter a valid date: the one typed does not exist or was emptied. To "
                    "remove the date on file, tick “Remove this value”."
                )
            )
        return str(_("Enter a value. To remove the one on file, tick “Remove this value” instead."))

    def changed_values(self) -> list[tuple[DataField, Any]]:
        """(field, canonical value or upload) for each field the user changed; a removal is
        in `removals`, never here."""
        changes = []
        removed = {field.pk for field in self.removals}
        for name, field in self.data_fields.items():
            if field.pk in removed or name in self.untouched:
                continue
            if field.is_document:
                changes.append((field, self.cleaned_data[name]))
                continue
            value = fieldtypes.to_canonical(field, self.cleaned_data.get(name))
            if value is not None:
                changes.append((field, value))
        return changes
