from __future__ import annotations

from django.urls import path

from operations import views

urlpatterns = [
    path("settings/status/", views.status, name="operations_status"),
]
