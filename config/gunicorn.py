"""gunicorn's settings (`gunicorn -c config/gunicorn.py config.wsgi`): an access log on
standard output in which the tokens of links are masked, like every other log line, and the
metrics of every worker kept in one folder, which `/metrics` sums (operations.metrics)."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from organizations.logmask import mask

bind = "0.0.0.0:8000"
workers = 3
accesslog = "-"

# Set before any worker imports prometheus_client, which reads it then. A folder of this
# server's own unless one is named; emptied at start, as the files of a past server's
# workers would add their counts to ours.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="backoffice-metrics-")


def on_starting(server: Any) -> None:
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    # A worker gone: its live gauges go with it (its counts and histograms stay summed).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class MaskingLogger(Logger):
    """The request line, the path, the query and the Referer can all carry a portal link.
    With LOG_FORMAT=json a request is one JSON object, with the id the app gave it."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: dt.timedelta):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: mask(value) if isinstance(value, str) else value for key, value in atoms.items()
        }

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if os.environ.get("LOG_FORMAT", "").strip().lower() != "json":
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        atoms = self.atoms(resp, req, environ, request_time)
        line = {
            # gunicorn's own reading of the moment, as its text lines show it.
            "time": dt.datetime.strptime(atoms["t"], "[%d/%b/%Y:%H:%M:%S %z]")
            .astimezone(dt.UTC)
            .isoformat(),
            "level": "INFO",
            "logger": "gunicorn.access",
            "message": atoms["r"],
            "request_id": atoms.get("{x-request-id}o", ""),
            "remote": atoms["h"],
            "status": atoms["s"],
            "bytes": atoms["B"],
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "user_agent": atoms["a"],
        }
        self.access_log.info(json.dumps(line, ensure_ascii=False, default=str))


logger_class = MaskingLogger
