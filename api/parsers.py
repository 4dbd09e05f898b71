"""The API's JSON: standard JSON (RFC 8259) of Unicode text (I-JSON, RFC 7493)."""

from __future__ import annotations

import json
from typing import Any

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    """Refuses, as a parse error, what Python's json reads but nothing after it can bear.

    A lone surrogate (\\ud800, refused by I-JSON) becomes a str that no database column or
    UTF-8 response can hold: stored, or echoed back in an error message, it answered 500.
    Arrays nested thousands deep exhaust the parser's recursion, which DRF does not catch.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
            # Written back as the database and the response will write it.
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deep.") from None
        except UnicodeEncodeError:
            raise exceptions.ParseError(
                "JSON parse error - a string holds a lone surrogate: not Unicode text."
            ) from None
        return data
