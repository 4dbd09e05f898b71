from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from api.models import ApiKey


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, e.g. “CRM sync”: history and audit show it."),
    )
    access = forms.ChoiceField(
        label=_("Access"),
        choices=ApiKey.Access.choices,
        initial=ApiKey.Access.READ,
        widget=forms.RadioSelect,
    )


class WebhookForm(forms.Form):
    url = forms.URLField(
        label=_("Address"),
        max_length=500,
        assume_scheme="https",
        help_text=_("Where the events are posted, as JSON signed with the endpoint's secret."),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=[], widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from api.webhooks import EVENTS

        super().__init__(*args, **kwargs)
        events = self.fields["events"]
        assert isinstance(events, forms.MultipleChoiceField)
        events.choices = [(name, f"{name} — {label}") for name, label in EVENTS.items()]
