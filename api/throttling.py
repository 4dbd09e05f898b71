from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from api.models import ApiKey


class KeyRateThrottle(SimpleRateThrottle):
    """A rate per key (API_RATE_LIMIT), answered with 429 and Retry-After beyond it.

    Counted in the cache: production needs a shared one (CACHE_URL) for the limit to hold
    across web workers.
    """

    scope = "api_key"

    def get_rate(self) -> str:
        # Read on each request, not at import, so that the setting can change under a test.
        return str(settings.API_RATE_LIMIT)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
