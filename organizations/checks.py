"""System checks that refuse an unsafe production configuration (run by check --deploy)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_production_settings(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    if not settings.SITE_URL.startswith("https://"):
        problems.append(
            Error(
                "SITE_URL must start with https:// in production: e-mailed links carry tokens.",
                id="backoffice.E001",
            )
        )
    if settings.EMAIL_BACKEND.endswith("console.EmailBackend"):
        problems.append(
            Warning(
                "E-mails go to the console: set EMAIL_HOST so that clients receive their links.",
                id="backoffice.W001",
            )
        )
    if settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
        problems.append(
            Warning(
                "Documents are stored on local disk: set AWS_STORAGE_BUCKET_NAME to keep them "
                "in S3-compatible storage shared by every web server and worker.",
                id="backoffice.W002",
            )
        )
    if settings.CACHES["default"]["BACKEND"].endswith("LocMemCache"):
        problems.append(
            Error(
                "The cache is per process: set CACHE_URL to a shared cache (Redis) so that "
                "the portal's and the login's rate limits hold across web workers.",
                id="backoffice.E002",
            )
        )
    return problems
