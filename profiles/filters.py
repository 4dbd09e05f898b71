"""The filters of a profile list, shared by the back office's lists and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import BooleanWidget

from organizations.lookups import clean_query
from profiles.models import DataField, DataFieldQuerySet, FieldType, Kind, Profile, ProfileQuerySet

STATUSES = [("active", _("Active")), ("archived", _("Archived")), ("all", _("All"))]


class ProfileFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=Kind.choices, label=_("Type"))
    status = django_filters.ChoiceFilter(
        choices=STATUSES, method="filter_status", empty_label=None, label=_("Status")
    )
    q = django_filters.CharFilter(method="filter_search", label=_("Search"))
    representatives = django_filters.BooleanFilter(
        field_name="is_representative",
        label=_("Representatives only"),
        widget=BooleanWidget,
    )
    company = django_filters.UUIDFilter(field_name="company__uuid", label=_("Company"))

    class Meta:
        model = Profile
        fields = ["kind", "status", "q", "representatives", "company"]

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # Archived profiles are out of the way unless asked for, in every list.
        data = data.copy() if data is not None else {}
        if data.get("status") not in dict(STATUSES):
            data["status"] = "active"
        super().__init__(data, *args, **kwargs)

    def filter_status(self, queryset: ProfileQuerySet, name: str, value: str) -> ProfileQuerySet:
        if value == "archived":
            return queryset.archived()
        if value == "all":
            return queryset
        return queryset.active()

    def filter_search(self, queryset: ProfileQuerySet, name: str, value: str) -> ProfileQuerySet:
        return queryset.search(clean_query(value))


class DataFieldFilterSet(django_filters.FilterSet):
    applies_to = django_filters.ChoiceFilter(choices=Kind.choices, label=_("For"))
    type = django_filters.ChoiceFilter(choices=FieldType.choices, label=_("Type"))
    archived = django_filters.BooleanFilter(
        method="filter_archived", label=_("Archived"), widget=BooleanWidget
    )

    class Meta:
        model = DataField
        fields = ["applies_to", "type", "archived"]

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # As with profiles, archived fields are out of the way unless asked for.
        data = data.copy() if data is not None else {}
        data.setdefault("archived", "false")
        super().__init__(data, *args, **kwargs)

    def filter_archived(
        self, queryset: DataFieldQuerySet, name: str, value: bool
    ) -> DataFieldQuerySet:
        return queryset.archived() if value else queryset.active()
