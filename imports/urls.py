from django.urls import path

from imports import views

app_name = "imports"

urlpatterns = [
    path("imports/", views.import_list, name="list"),
    path("imports/<uuid:job_uuid>/", views.import_detail, name="detail"),
    path("imports/<uuid:job_uuid>/mapping/", views.import_mapping, name="mapping"),
    path("imports/<uuid:job_uuid>/run/", views.import_run, name="run"),
    path("imports/<uuid:job_uuid>/cancel/", views.import_cancel, name="cancel"),
    path("imports/<uuid:job_uuid>/progress/", views.import_progress, name="progress"),
    path("imports/<uuid:job_uuid>/errors.csv", views.import_errors, name="errors"),
    path("exports/<uuid:job_uuid>/", views.export_job, name="export_job"),
    path("exports/<uuid:job_uuid>/progress/", views.export_progress, name="export_progress"),
    path("exports/<uuid:job_uuid>/download/", views.export_download, name="export_download"),
    # The format is part of the route, not a parameter: a page per format.
    path("<str:url_kind>/export.csv", views.export, {"format": "csv"}, name="export_csv"),
    path("<str:url_kind>/export.xlsx", views.export, {"format": "xlsx"}, name="export_xlsx"),
]
