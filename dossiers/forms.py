from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django_scopes.forms import SafeModelMultipleChoiceField

from dossiers.models import Dossier, DossierItem, ItemReview
from profiles import fieldtypes
from profiles.forms import DataFieldsForm
from profiles.models import DataField


class PortalForm(DataFieldsForm):
    """The client's answers. A draft checks formats only; a submission checks everything.

    An update dossier is answered with something new for every item: a new upload for a
    document (the file on file does not count), a changed value or an explicit "still
    correct" for anything else. A classic dossier keeps its per-field "required" rule.
    Only `editable` items are fields of the form: after a review, the rejected ones.
    """

    def __init__(
        self,
        *args: Any,
        dossier: Dossier,
        items: list[DossierItem],
        editable: list[DossierItem],
        final: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.dossier = dossier
        self.final = final
        self.items: dict[str, DossierItem] = {}
        self.confirm_names: dict[str, str] = {}
        for item in editable:
            field = item.field
            name = self.add_data_field(
                field,
                value=item.answer if item.answered else item.initial_value,
                # The file on file is shown by the page, with a link: it is not an answer.
                document=(
                    {"name": item.upload_name, "size": item.upload_size} if item.upload else None
                ),
                # A document's presence is checked in clean(), with the reason in the message.
                required=final and field.required and not field.is_document,
            )
            self.items[name] = item
            # A "still correct" staff sent back cannot be the answer again: no box to tick.
            confirmation_refused = (
                item.review == ItemReview.REJECTED and item.rejected_answer == item.initial_value
            )
            if item.can_be_confirmed and not confirmation_refused:
                confirm = f"c_{field.uuid.hex}"
                self.fields[confirm] = forms.BooleanField(label=_("Still correct"), required=False)
                self.initial[confirm] = item.confirmed
                self.confirm_names[name] = confirm
        if self.confirm_names:
            self.fields["confirm_all"] = forms.BooleanField(
                label=_("Everything above that I did not change is still correct"),
                required=False,
            )
        self.all_items = items

    def rows(self) -> list[dict[str, Any]]:
        """Each requested item in order, with its form fields if the client may answer it."""
        by_item = {item.pk: name for name, item in self.items.items()}
        rows = []
        for item in self.all_items:
            name = by_item.get(item.pk)
            rows.append(
                {
                    "item": item,
                    "field": self[name] if name else None,
                    "confirm": self[self.confirm_names[name]]
                    if name in self.confirm_names
                    else None,
                }
            )
        return rows

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        confirm_all = data.get("confirm_all", False)
        self._answers: dict[int, Any] = {}
        self._confirmations: dict[int, bool] = {}
        for name, item in self.items.items():
            field = item.field
            if field.is_document:
                if not self.final or data.get(name) or item.upload:
                    continue
                if self.dossier.needs_fresh_answers:
                    self.add_error(
                        name,
                        _("Upload a new file: the one on file does not count as an update.")
                        if item.initial_document_id
                        else _("Upload a file."),
                    )
                elif field.required and not item.initial_document_id:
                    self.add_error(name, _("This field is required."))
                continue
            if name in self.errors:
                continue
            value = fieldtypes.to_canonical(field, data.get(name))
            changed = value != item.initial_value
            confirm = self.confirm_names.get(name)
            confirmed = bool(confirm) and not changed and (data.get(confirm) or confirm_all)
            self._answers[item.pk] = value
            self._confirmations[item.pk] = bool(confirmed)
            if not self.final:
                continue
            if item.review == ItemReview.REJECTED and value == item.rejected_answer:
                self.add_error(name, _("Change this answer: the one sent back was not accepted."))
            elif self.dossier.needs_fresh_answers and not (changed or confirmed):
                self.add_error(
                    name,
                    _("Change this value, or tick “Still correct” if it has not changed.")
                    if confirm
                    else _("Enter a value: there is none on file to confirm."),
                )
        return data

    def answers(self) -> dict[int, Any]:
        return self._answers

    def confirmations(self) -> dict[int, bool]:
        return self._confirmations

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


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason, shown to the client"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say what the client should correct.")},
    )
