from __future__ import annotations

from django.urls import path

from api import settings_views

urlpatterns = [
    path("settings/api/", settings_views.key_list, name="api_keys"),
    path("settings/api/<uuid:key_uuid>/revoke/", settings_views.key_revoke, name="api_key_revoke"),
    path("settings/webhooks/", settings_views.webhook_list, name="api_webhooks"),
    path(
        "settings/webhooks/<uuid:endpoint_uuid>/",
        settings_views.webhook_detail,
        name="api_webhook",
    ),
    path(
        "settings/webhooks/<uuid:endpoint_uuid>/delete/",
        settings_views.webhook_delete,
        name="api_webhook_delete",
    ),
    path(
        "settings/webhooks/<uuid:endpoint_uuid>/test/",
        settings_views.webhook_test,
        name="api_webhook_test",
    ),
    path(
        "settings/webhooks/deliveries/<uuid:delivery_uuid>/again/",
        settings_views.webhook_again,
        name="api_webhook_again",
    ),
]
