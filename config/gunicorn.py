"""gunicorn's settings (`gunicorn -c config/gunicorn.py config.wsgi`): an access log on
standard output in which the tokens of links are masked, like every other log line."""

from __future__ import annotations

import datetime as dt
from typing import Any

from gunicorn.glogging import Logger

from organizations.logmask import mask

bind = "0.0.0.0:8000"
workers = 3
accesslog = "-"


class MaskingLogger(Logger):
    """The request line, the path, the query and the Referer can all carry a portal link."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: dt.timedelta):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: mask(value) if isinstance(value, str) else value for key, value in atoms.items()
        }


logger_class = MaskingLogger
