from __future__ import annotations

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from api import docs, upsert, views

app_name = "api"

router = SimpleRouter()
router.register("profiles", views.ProfileViewSet, basename="profile")
router.register("fields", views.DataFieldViewSet, basename="field")
router.register("groups", views.UpdateGroupViewSet, basename="group")
router.register("dossiers", views.DossierViewSet, basename="dossier")
router.register("documents", views.DocumentViewSet, basename="document")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", docs.DocsView.as_view(url_name="api:schema"), name="docs"),
    # Before the router's: "upsert" would otherwise read as a profile's UUID.
    path("profiles/upsert/", upsert.UpsertViewSet.as_view({"post": "create"}), name="upsert"),
    *router.urls,
    # Anything else under the API is a 404 in the API's shape, not the back office's page.
    re_path(r"^", views.not_found),
]
