"""`/metrics` in Prometheus' text format.

Two parts. The request latency by view is a histogram each process records; under gunicorn's
several workers it is kept in files of `PROMETHEUS_MULTIPROC_DIR` (config/gunicorn.py sets
it) and summed over the workers at each scrape. The product's gauges (queues, runs, files,
the dispatcher's last pass) are counted from the database at each scrape, once, by
`operations.selectors.gauges`; with the database down they are left out and
`backoffice_dependency_up{dependency="database"}` says why. Each dependency's state comes
from the same checks as `/readyz`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Histogram
from prometheus_client import generate_latest as render
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from operations import readiness, selectors

logger = logging.getLogger(__name__)

PREFIX = "backoffice_"

REQUEST_LATENCY = Histogram(
    f"{PREFIX}request_duration_seconds",
    "Time to answer a request, by view (its URL name) and method.",
    ["view", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

HELP = {
    "outbox_messages_waiting": "E-mails written and not yet sent (queued).",
    "outbox_oldest_waiting_age_seconds": "Age of the oldest e-mail not yet sent (0: none).",
    "outbox_messages_undeliverable": "E-mails given up as undeliverable.",
    "runs_unfinished": "Update runs recorded whose dossiers are not all opened yet.",
    "files_pending_deletion": "Files recorded for deletion that storage has not deleted yet.",
    "webhook_deliveries_waiting": "Webhook deliveries not yet delivered (queued).",
    "webhook_oldest_waiting_age_seconds": "Age of the oldest webhook delivery waiting (0: none).",
    "webhook_deliveries_undeliverable": "Webhook deliveries given up (kept until purged).",
    "dispatch_last_pass_timestamp_seconds": "When the dispatcher's latest pass began (Unix time).",
    "dispatch_last_pass_duration_seconds": "How long the dispatcher's latest pass took.",
    "dispatch_last_pass_runs": "Runs the dispatcher's latest pass recorded.",
}


def view_name(request: HttpRequest) -> str:
    """The URL's name: a bounded set of labels, never a path with its ids."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "unmatched"
    return str(match.view_name or match._func_path)


class RequestLatencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        began = time.monotonic()
        response = self.get_response(request)
        REQUEST_LATENCY.labels(view_name(request), request.method or "").observe(
            time.monotonic() - began
        )
        return response


class Scrape(Collector):
    """This scrape's dependency states and, with the database up, the product's gauges."""

    def __init__(self, checks: list[readiness.Check], gauges: dict[str, float]) -> None:
        self.checks, self.gauges = checks, gauges

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            f"{PREFIX}dependency_up",
            "Whether the dependency answered /readyz's check within its timeout.",
            labels=["dependency"],
        )
        for check in self.checks:
            up.add_metric([check.name], 1.0 if check.ok else 0.0)
        yield up
        for name, value in self.gauges.items():
            yield GaugeMetricFamily(f"{PREFIX}{name}", HELP[name], value=float(value))


def exposition() -> bytes:
    """The whole text of a scrape."""
    checks = readiness.check_all()
    database_up = any(check.name == "database" and check.ok for check in checks)
    gauges: dict[str, float] = {}
    if database_up:
        try:
            gauges = selectors.gauges(timezone.now())
        except DatabaseError:
            # Answered SELECT 1 but not this (a lock, a migration half-way): a scrape without
            # the product's gauges, never a 500 that loses the rest.
            logger.warning("The metrics' gauges could not be counted", exc_info=True)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(Scrape(checks, gauges))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        workers = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(workers)
        recorded = render(workers)
    else:
        recorded = render(REGISTRY)
    return render(scrape) + recorded


CONTENT_TYPE = CONTENT_TYPE_LATEST
