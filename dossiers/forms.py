from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_scopes.forms import SafeModelMultipleChoiceField

from dossiers.models import DossierItem
from profiles import fieldtypes
from profiles.models import DataField
from profiles.uploads import check_upload


class PortalForm(forms.Form):
    """The client's answers. A draft checks formats only; a submission checks everything."""

    def __init__(self, *args: Any, items: list[DossierItem], final: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Named by the field's UUID: stable across dossiers, and no sequential id in the page.
        self.items = {f"f_{item.field.uuid.hex}": item for item in items}
        for name, item in self.items.items():
            field = item.field
            has_document = bool(item.upload or item.initial_document_id)
            required = final and field.required and not (field.is_document and has_document)
            form_field = fieldtypes.form_field(field, required=required)
            if field.is_document:
                form_field.widget.current_document = (
                    {"name": item.upload_name, "size": item.upload_size}
                    if item.upload
                    else item.initial_document
                )
            else:
                value = item.answer if item.answered else item.initial_value
                self.initial[name] = fieldtypes.to_initial(field, value)
            self.fields[name] = form_field

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, item in self.items.items():
            upload = data.get(name)
            if item.field.is_document and upload:
                try:
                    upload.sniffed_content_type = check_upload(item.field, upload)
                except ValidationError as error:
                    self.add_error(name, error)
        return data

    def answers(self) -> dict[int, Any]:
        return {
            item.pk: fieldtypes.to_canonical(item.field, self.cleaned_data.get(name))
            for name, item in self.items.items()
            if not item.field.is_document
        }

    def uploads(self) -> dict[int, Any]:
        return {
            item.pk: self.cleaned_data[name]
            for name, item in self.items.items()
            if item.field.is_document and self.cleaned_data.get(name)
        }


class ClassicDossierForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    fields = SafeModelMultipleChoiceField(
        queryset=DataField.objects.none(),
        label=_("Fields to ask for"),
        widget=forms.CheckboxSelectMultiple,
    )
    message = forms.CharField(
        label=_("Message to the client"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=90, initial=30)

    def __init__(self, *args: Any, profile: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["fields"].queryset = DataField.objects.filter(
            organization_id=profile.organization_id,
            applies_to=profile.kind,
            archived_at__isnull=True,
        )
        self.fields["title"].initial = _("Information request")
