from django.urls import path, register_converter

from profiles import privacy_views, views


class KindConverter:
    regex = "contacts|companies"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(KindConverter, "kind")

app_name = "profiles"

urlpatterns = [
    path("<kind:url_kind>/", views.profile_list, name="list"),
    path("<kind:url_kind>/new/", views.profile_create, name="create"),
    path("<kind:url_kind>/bulk/archive/", views.bulk_archive, name="bulk_archive"),
    path("profiles/<uuid:profile_uuid>/", views.profile_detail, name="detail"),
    path("profiles/<uuid:profile_uuid>/edit/", views.profile_edit, name="edit"),
    path("profiles/<uuid:profile_uuid>/archive/", views.profile_archive, name="archive"),
    path("profiles/<uuid:profile_uuid>/values/", views.values_edit, name="values"),
    path("profiles/<uuid:profile_uuid>/history/", views.value_history, name="history"),
    # History rows have no UUID of their own: the id is looked up within the profile and its
    # organisation, so another organisation's row is a 404 like any other object.
    path(
        "profiles/<uuid:profile_uuid>/history/<int:row_id>/restore/",
        views.value_restore,
        name="restore",
    ),
    path(
        "profiles/<uuid:profile_uuid>/privacy/export/",
        privacy_views.privacy_export,
        name="privacy_export",
    ),
    path(
        "profiles/<uuid:profile_uuid>/privacy/erase/",
        privacy_views.privacy_erase,
        name="privacy_erase",
    ),
    path("documents/<uuid:document_uuid>/", views.document_download, name="document"),
    path("settings/fields/<kind:url_kind>/", views.field_list, name="field_list"),
    path("settings/fields/<kind:url_kind>/new/", views.field_create, name="field_create"),
    path("settings/field/<uuid:field_uuid>/", views.field_edit, name="field_edit"),
    path("settings/field/<uuid:field_uuid>/archive/", views.field_archive, name="field_archive"),
    path("settings/field/<uuid:field_uuid>/move/", views.field_move, name="field_move"),
]
