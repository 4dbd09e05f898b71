"""Keeps the secrets of links out of log lines: a log is read by more people than a link."""

from __future__ import annotations

import logging
import re

# The portal (/d/<token>/), invitations (/invitation/<token>/) and password resets
# (/password/reset/<uid>/<token>/): what follows these prefixes opens a door.
_SECRET_PATH = re.compile(
    r"(/(?:d|invitation)/)[^/\s?\"']+|(/password/reset/)[^/\s?\"']+/[^/\s?\"']+"
)

# An API key (api.models.KEY_PREFIX, then token_urlsafe) wherever it appears, its
# underscore percent-encoded or not, and whatever a parameter named like a credential
# holds: a client that puts its key in a query string is refused, but the access log has
# already written the request line.
_API_KEY = re.compile(r"\bbo(?:_|%5f)[A-Za-z0-9_%-]{8,}", re.IGNORECASE)
_CREDENTIAL_PARAMETER = re.compile(
    r"([?&](?:api[_-]?key|key|token|access[_-]?token|auth|authorization|bearer)=)[^&\s\"']+",
    re.IGNORECASE,
)


def mask(text: str) -> str:
    text = _SECRET_PATH.sub(
        lambda m: f"{m.group(1)}***" if m.group(1) else f"{m.group(2)}***/***", text
    )
    text = _API_KEY.sub("bo_***", text)
    return _CREDENTIAL_PARAMETER.sub(lambda m: f"{m.group(1)}***", text)


class MaskTokens(logging.Filter):
    """Rewrites the message of every record that names a secret path, arguments included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
