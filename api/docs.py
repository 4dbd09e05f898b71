"""The API's documentation page: Swagger UI from our own static files, under our CSP."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class DocsView(SpectacularSwaggerSplitView):
    # The stock page styles itself inline, which our Content-Security-Policy refuses; ours
    # takes the same rules from a file. The start-up script is a URL of its own (split view).
    template_name = "api/docs.html"
    title = "Back office API"
