from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django_scopes.forms import SafeModelMultipleChoiceField

from dossiers.models import Dossier, DossierItem, ItemReview
from profiles import fieldtypes
from profiles.forms import DataFieldsForm
from profiles.models import DataField

# The document types a phone's camera can give (it takes JPEG, or HEIC on some phones).
IMAGE_TYPES = ("jpeg", "png", "webp", "heic")


class PortalDocumentInput(fieldtypes.DocumentInput):
    """The portal's file input: a file the client already chose (kept as a draft upload)
    is named as chosen, so that on a phone they need not find and pick it again.

    Beside it, a second input of the same name opens a phone's camera ("Take a photo",
    `capture`), with no script: a browser sends only the inputs that hold a file, and if
    both do, the photo (the later one) is the answer.
    """

    template_name = "portal/widgets/document_input.html"
    camera = False

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["camera"] = self.camera
        return context


class PortalForm(DataFieldsForm):
    """The client's answers. A draft checks formats only; a submission checks everything.

    An update dossier is answered with something new for every item: a new upload for a
    document (the file on file does not count), a changed value or an explicit "still
    correct" for anything else. A classic dossier keeps its per-field "required" rule.
    An absent, empty or blank input is "not answered", never a removal: a value on file is
    removed only through the item's own "This no longer applies — remove it" box.
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
        self.remove_names: dict[str, str] = {}
        for item in editable:
            field = item.field
            name = self.add_data_field(
                field,
                # An item not answered, or to be removed, shows the value on file.
                value=item.answer if item.answer is not None else item.initial_value,
                # The file on file is shown by the page, with a link: it is not an answer.
                document=(
                    {"name": item.upload_name, "size": item.upload_size} if item.upload else None
                ),
                # A document's presence is checked in clean(), with the reason in the message.
                required=final and field.required and not field.is_document,
            )
            if field.is_document:
                widget = PortalDocumentInput(attrs=self.fields[name].widget.attrs)
                widget.current_document = self.fields[name].widget.current_document
                widget.camera = any(t in IMAGE_TYPES for t in field.accepted_types)
                self.fields[name].widget = widget
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
            if item.can_be_removed:
                remove = f"r_{field.uuid.hex}"
                self.fields[remove] = forms.BooleanField(
                    label=_("This no longer applies — remove it"), required=False
                )
                self.initial[remove] = item.removing
                self.remove_names[name] = remove
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
                    "remove": self[self.remove_names[name]] if name in self.remove_names else None,
                }
            )
        return rows

    def progress(self) -> tuple[int, int]:
        """How many items are answered, as saved, out of how many: an item already accepted
        counts, as does one with a fresh answer; in a classic dossier a value or a document
        on file is an answer too."""
        editable = {item.pk for item in self.items.values()}
        done = 0
        for item in self.all_items:
            if item.pk not in editable or item.has_fresh_answer:
                done += 1
            elif not self.dossier.needs_fresh_answers and not item.removing:
                if item.field.is_document:
                    done += bool(item.upload or item.initial_document_id)
                else:
                    done += (item.answer if item.answered else item.initial_value) is not None
        return done, len(self.all_items)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        confirm_all = data.get("confirm_all", False)
        # item id -> canonical answer; None: "not answered" (the draft's answer is cleared).
        self._answers: dict[int, Any] = {}
        self._confirmations: dict[int, bool] = {}
        self._removals: dict[int, bool] = {}
        for name, item in self.items.items():
            remove_name = self.remove_names.get(name)
            removing = bool(remove_name and data.get(remove_name))
            if remove_name:
                self._removals[item.pk] = removing
            if item.field.is_document:
                self._clean_document(name, item, data, removing)
            elif name not in self.errors:
                self._clean_value(name, item, data, removing, confirm_all)
        return data

    def _clean_document(
        self, name: str, item: DossierItem, data: dict[str, Any], removing: bool
    ) -> None:
        if removing and data.get(name):
            self.add_error(name, _("Either choose a new file or remove this one, not both."))
            return
        if not self.final or removing or data.get(name) or item.upload:
            return
        if self.dossier.needs_fresh_answers:
            self.add_error(
                name,
                _("Upload a new file: the one on file does not count as an update.")
                if item.initial_document_id
                else _("Upload a file."),
            )
        elif item.field.required and not item.initial_document_id:
            self.add_error(name, _("This field is required."))

    def _clean_value(
        self,
        name: str,
        item: DossierItem,
        data: dict[str, Any],
        removing: bool,
        confirm_all: bool,
    ) -> None:
        value = fieldtypes.to_canonical(item.field, data.get(name))
        confirm = self.confirm_names.get(name)
        if removing:
            # The browser sends the prefilled value with the box: that, or nothing, is a
            # removal; a new value typed as well is a contradiction to settle by the client.
            if value is not None and not fieldtypes.same(item.field, value, item.initial_value):
                self.add_error(name, _("Either enter a new value or remove this one, not both."))
            elif confirm and data.get(confirm):
                self.add_error(
                    name, _("“Still correct” and “This no longer applies” cannot both be ticked.")
                )
            elif self.final and item.review == ItemReview.REJECTED and item.rejected_answer is None:
                self.add_error(name, _("Change this answer: the one sent back was not accepted."))
            else:
                self._answers[item.pk] = None
                self._confirmations[item.pk] = False
            return
        if value is None:
            # Not answered. A draft forgets an answer the client emptied, but an input the
            # page did not send leaves the draft as it was.
            if self.add_prefix(name) in self.data:
                self._answers[item.pk] = None
                self._confirmations[item.pk] = False
            if self.final and self.dossier.needs_fresh_answers:
                self.add_error(
                    name,
                    _(
                        "Answer this item: enter a new value, tick “Still correct” if it has "
                        "not changed, or tick “This no longer applies” to remove it."
                    )
                    if name in self.remove_names
                    else _("Enter a value: there is none on file to confirm."),
                )
            return
        changed = not fieldtypes.same(item.field, value, item.initial_value)
        confirmed = confirm is not None and not changed and bool(data.get(confirm) or confirm_all)
        self._answers[item.pk] = value
        self._confirmations[item.pk] = confirmed
        if not self.final:
            return
        if item.review == ItemReview.REJECTED and value == item.rejected_answer:
            self.add_error(name, _("Change this answer: the one sent back was not accepted."))
        elif self.dossier.needs_fresh_answers and not (changed or confirmed):
            self.add_error(
                name,
                _("Change this value, or tick “Still correct” if it has not changed.")
                if confirm
                else _("Enter a value: there is none on file to confirm."),
            )

    def answers(self) -> dict[int, Any]:
        """Each answered item's canonical value; None for an item not (or no longer) answered
        or to be removed (see `removals`). Items whose input was absent are not named."""
        return self._answers

    def confirmations(self) -> dict[int, bool]:
        return self._confirmations

    def removals(self) -> dict[int, bool]:
        """Whether the client asked to remove the value on file, for each item offering it."""
        return self._removals

    def uploads(self) -> dict[int, Any]:
        """The valid files chosen, also when another field has an error."""
        cleaned = getattr(self, "cleaned_data", {})
        return {
            item.pk: cleaned[name]
            for name, item in self.items.items()
            if item.field.is_document and cleaned.get(name) and name not in self.errors
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
        self.fields["fields"].queryset = DataField.objects.active().filter(
            organization_id=profile.organization_id,
            applies_to=profile.kind,
        )
        self.fields["fields"].label_from_instance = lambda f: f.local_label
        self.fields["title"].initial = _("Information request")


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason, shown to the client"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Say what the client should correct.")},
    )
