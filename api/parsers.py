"""The API's JSON: standard JSON (RFC 8259) of Unicode text (I-JSON, RFC 7493)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """Refuses a body holding a lone surrogate (\\ud800), as I-JSON does.

    Python's json reads one into a str that no database column or UTF-8 response can hold:
    stored, or echoed back in an error message, it would answer 500.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise exceptions.ParseError(
                "JSON parse error - a string holds a lone surrogate: not Unicode text."
            ) from None
        return data
