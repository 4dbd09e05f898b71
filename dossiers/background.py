"""Handing work to the queue without ever failing the request or transaction behind it."""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def enqueue(task: Any, *args: Any, sweep: str) -> bool:
    """Best effort: with the broker down the work is not lost, `sweep` (a periodic task that
    finds the work undone) enqueues it again. Returns whether the broker took it."""
    try:
        task.apply_async(
            args=args,
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        )
    except Exception:
        logger.exception("Could not enqueue %s; the periodic sweep %s will retry", task.name, sweep)
        return False
    return True
