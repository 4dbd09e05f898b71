from __future__ import annotations

from django.urls import path

from api import settings_views

urlpatterns = [
    path("settings/api/", settings_views.key_list, name="api_keys"),
    path("settings/api/<uuid:key_uuid>/revoke/", settings_views.key_revoke, name="api_key_revoke"),
]
