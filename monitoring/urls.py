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
        "settings/fields/monitoring/<uuid:group_uuid>/send/",
        views.group_send_now,
        name="group_send_now",
    ),
    path(
        "settings/fields/monitoring/<uuid:group_uuid>/recipients/",
        views.group_recipients,
        name="group_recipients",
    ),
    path("monitoring/overview/", views.compliance_overview, name="overview"),
    path("monitoring/overview.csv", views.compliance_export, name="overview_export"),
    path(
        "monitoring/groups/<uuid:group_uuid>/runs/<str:period>/",
        views.run_detail,
        name="run_detail",
    ),
    path(
        "monitoring/groups/<uuid:group_uuid>/runs/<str:period>/progress/",
        views.run_progress,
        name="run_progress",
    ),
    path(
        "monitoring/groups/<uuid:group_uuid>/runs/<str:period>/remind/",
        views.run_remind,
        name="run_remind",
    ),
    path(
        "monitoring/groups/<uuid:group_uuid>/runs/<str:period>/outstanding.csv",
        views.run_export,
        name="run_export",
    ),
    path(
        "profiles/<uuid:profile_uuid>/fields/<uuid:field_uuid>/monitoring/",
        views.value_popup,
        name="value_popup",
    ),
]
