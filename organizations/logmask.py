"""Keeps the secrets of links out of log lines: a log is read by more people than a link."""

from __future__ import annotations

import logging
import re

# The portal (/d/<token>/), invitations (/invitation/<token>/) and password resets
# (/password/reset/<uid>/<token>/): what follows these prefixes opens a door.
_SECRET_PATH = re.compile(
    r"(/(?:d|invitation)/)[^/\s?\"']+|(/password/reset/)[^/\s?\"']+/[^/\s?\"']+"
)


def mask(text: str) -> str:
    return _SECRET_PATH.sub(
        lambda m: f"{m.group(1)}***" if m.group(1) else f"{m.group(2)}***/***", text
    )


class MaskTokens(logging.Filter):
    """Rewrites the message of every record that names a secret path, arguments included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
