from __future__ import annotations

import os

from celery import Celery

# Its signal receivers carry a request's id into the tasks it enqueues.
from config import requestid  # noqa: F401

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
