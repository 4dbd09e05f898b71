from django.urls import path

from monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("settings/fields/monitoring/", views.group_list, name="group_list"),
    path("settings/fields/monitoring/new/", views.group_form, name="group_create"),
    path(
        "settings/fields/monitoring/new/preview/", views.group_preview, name="group_create_preview"
    ),
    path("settings/fields/monitoring/<uuid:group_uuid>/", views.group_detail, name="group_detail"),
    path(
        "settings/fields/monitoring/<uuid:group_uuid>/preview/",
        views.group_preview,
        name="group_edit_preview",
    ),
    path("settings/fields/monitoring/<uuid:group_uuid>/edit/", views.group_form, name="group_edit"),
    path(
        "settings/fields/monitoring/<uuid:group_uuid>/toggle/",
        views.group_toggle,
        name="group_toggle",
    ),
    path(
        "settings/fields/monitoring/<uuid:group_uuid>/delete/",
        views.group_delete,
        name="group_delete",
    ),
    path(
        "profiles/<uuid:profile_uuid>/fields/<uuid:field_uuid>/monitoring/",
        views.value_popup,
        name="value_popup",
    ),
]
