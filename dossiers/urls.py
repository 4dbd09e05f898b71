from django.urls import path

from dossiers import views

app_name = "dossiers"

urlpatterns = [
    path("dossiers/", views.dossier_list, name="list"),
    path("dossiers/to-review/", views.review_queue, name="review_queue"),
    path("dossiers/bulk/remind/", views.bulk_remind, name="bulk_remind"),
    path("profiles/bulk/request/", views.bulk_request, name="bulk_request"),
    path("dossiers/records/<uuid:dossier_uuid>/", views.dossier_record, name="record"),
    path("dossiers/<uuid:dossier_uuid>/", views.dossier_detail, name="detail"),
    path("dossiers/<uuid:dossier_uuid>/approve/", views.dossier_approve, name="approve"),
    path("dossiers/<uuid:dossier_uuid>/reject/", views.dossier_reject, name="reject"),
    path("dossiers/<uuid:dossier_uuid>/undo/", views.dossier_undo, name="undo"),
    path(
        "dossiers/<uuid:dossier_uuid>/sent-back/<int:rejection_id>/",
        views.rejected_upload,
        name="rejected_upload",
    ),
    path(
        "dossiers/<uuid:dossier_uuid>/items/<str:field_key>/upload/",
        views.item_upload,
        name="item_upload",
    ),
    path("dossiers/<uuid:dossier_uuid>/link/", views.dossier_open_link, name="open_link"),
    path("dossiers/<uuid:dossier_uuid>/resend/", views.dossier_resend, name="resend"),
    path("profiles/<uuid:profile_uuid>/dossiers/", views.profile_dossiers, name="for_profile"),
    path("profiles/<uuid:profile_uuid>/dossiers/new/", views.dossier_create, name="create"),
]
