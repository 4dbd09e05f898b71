from __future__ import annotations

from django.urls import path

from outbox import webhooks

urlpatterns = [
    path("events/<slug:service>/", webhooks.tracking_events, name="email_events"),
]
