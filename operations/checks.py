"""check --deploy: who may read /metrics."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from organizations.checks import _is_catch_all

# A token a scraper holds: long enough that guessing it is out of the question.
SHORTEST_TOKEN = 32


@register(Tags.security, deploy=True)
def check_metrics_access(app_configs: Any, **kwargs: Any) -> list[Error | Warning]:
    problems: list[Error | Warning] = []
    wide = [network for network in settings.METRICS_NETWORKS if _is_catch_all(network)]
    if wide:
        problems.append(
            Error(
                f"METRICS_NETWORKS lets {', '.join(wide)} read /metrics: anyone on the "
                "internet could watch the queues and the traffic.",
                hint="Name the scraper's addresses or private network, or use METRICS_TOKEN.",
                id="operations.E001",
            )
        )
    if settings.METRICS_TOKEN and len(settings.METRICS_TOKEN) < SHORTEST_TOKEN:
        problems.append(
            Warning(
                f"METRICS_TOKEN is shorter than {SHORTEST_TOKEN} characters.",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(32))'",
                id="operations.W001",
            )
        )
    return problems
