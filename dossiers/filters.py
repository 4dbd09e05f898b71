"""The filters of a dossier list, shared by the back office's list and the API."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _
from django_filters.widgets import BooleanWidget

from dossiers.models import Dossier, DossierQuerySet
from dossiers.selectors import refused_ids
from organizations.lookups import clean_query


class DossierFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Dossier.Status.choices, label=_("Status"))
    kind = django_filters.ChoiceFilter(choices=Dossier.Kind.choices, label=_("Kind"))
    # The group lives in the monitoring app, to the right of this one: named by its UUID.
    group = django_filters.UUIDFilter(field_name="update_group__uuid", label=_("Update group"))
    profile = django_filters.UUIDFilter(field_name="profile__uuid", label=_("Profile"))
    outstanding = django_filters.BooleanFilter(
        method="filter_outstanding", label=_("Still running"), widget=BooleanWidget
    )
    undeliverable = django_filters.BooleanFilter(
        method="filter_undeliverable", label=_("E-mail undeliverable"), widget=BooleanWidget
    )
    q = django_filters.CharFilter(method="filter_search", label=_("Search"))

    class Meta:
        model = Dossier
        fields = ["status", "kind", "group", "profile", "outstanding", "undeliverable", "q"]

    def filter_outstanding(
        self, queryset: DossierQuerySet, name: str, value: bool
    ) -> DossierQuerySet:
        return (
            queryset.running() if value else queryset.exclude(status__in=Dossier.PENDING_STATUSES)
        )

    def filter_undeliverable(
        self, queryset: DossierQuerySet, name: str, value: bool
    ) -> DossierQuerySet:
        """An e-mail about the dossier was given up (`dossiers.selectors.refused_ids`)."""
        refused = refused_ids()
        return queryset.filter(id__in=refused) if value else queryset.exclude(id__in=refused)

    def filter_search(self, queryset: DossierQuerySet, name: str, value: str) -> DossierQuerySet:
        query = clean_query(value)
        return queryset.search(query) if query else queryset
