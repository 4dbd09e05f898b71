"""How the OpenAPI schema describes the key authentication."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An organisation API key (Settings > API): `Authorization: Bearer <key>`."
            ),
        }


def index_patterns(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An error on a list's item names its index (`values.0.field`): documented as a pattern.

    drf-standardized-errors writes such names as an enum of `values.INDEX.field`, which
    no real error matches.
    """
    for component in result.get("components", {}).get("schemas", {}).values():
        attr = component.get("properties", {}).get("attr", {})
        names = attr.get("enum", [])
        if any(".INDEX" in name for name in names):
            alternatives = "|".join(re.escape(n).replace("INDEX", r"\d+") for n in names)
            del attr["enum"]
            attr["pattern"] = f"^({alternatives})$"
    return result
