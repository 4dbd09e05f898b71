"""gunicorn's settings (`gunicorn -c config/gunicorn.py config.wsgi`): an access log on
standard output in which the tokens of links are masked, like every other log line, and the
metrics of every worker kept in one folder, which `/metrics` sums (operations.metrics)."""

from __future__ import annotations

import datetime as dt
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
    """The request line, the path, the query and the Referer can all carry a portal link."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: dt.timedelta):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: mask(value) if isinstance(value, str) else value for key, value in atoms.items()
        }


logger_class = MaskingLogger
