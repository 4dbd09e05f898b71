"""Filters of the log configuration (config/settings.py, LOGGING)."""

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A refused request (403, 404, 405…) is the client's error, not ours: one line, no
    traceback. Django logs it with the exception that made it, as it does for a 500."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
