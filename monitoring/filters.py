"""The filters of a list of update groups, shared by the back office and the API."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import BooleanWidget

from monitoring.models import UpdateGroup
from profiles.models import Kind


class UpdateGroupFilterSet(django_filters.FilterSet):
    applies_to = django_filters.ChoiceFilter(choices=Kind.choices, label=_("Type"))
    is_active = django_filters.BooleanFilter(label=_("Active"), widget=BooleanWidget)

    class Meta:
        model = UpdateGroup
        fields = ["applies_to", "is_active"]
