"""Filters and formats of the log configuration (config/settings.py, LOGGING)."""

from __future__ import annotations

import datetime as dt
import json
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


class JsonLines(logging.Formatter):
    """One JSON object per line (`LOG_FORMAT=json`): time (UTC, ISO 8601), level, logger,
    message, the request id, and the exception's traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", ""),
        }
        for extra in ("status_code", "task_id", "task_name"):
            if hasattr(record, extra):
                line[extra] = getattr(record, extra)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)
