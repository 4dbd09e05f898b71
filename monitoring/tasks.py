"""Periodic and fan-out tasks of monitoring. A task that raises is retried with backoff; what
is still undone after that is found again by a sweep (`sweep_unfinished_runs`)."""

from __future__ import annotations

import time

from celery import shared_task
from django.utils import timezone

from monitoring import dispatch, expiry, rolling, triggers
from monitoring.models import DispatchPass

RETRY = {
    "autoretry_for": (Exception,),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 6,
}


@shared_task
def dispatch_due_groups() -> int:
    # No retry of its own: beat runs it again within a minute, and a due group stays due.
    started_at, began = timezone.now(), time.monotonic()
    # Calendar groups' runs, then the rolling and tiered groups' due profiles.
    runs = len(dispatch.dispatch_due()) + len(rolling.dispatch_due())
    # The triggered requests of the same pass: a trigger waits one pass at most.
    triggers.dispatch_triggered()
    # After the pass's commit, outside its transaction: the record of a pass is no part of it.
    DispatchPass.objects.update_or_create(
        pk=1,
        defaults={"started_at": started_at, "duration": time.monotonic() - began, "runs": runs},
    )
    return runs


@shared_task(acks_late=True, **RETRY)
def open_run_dossiers(run_id: int) -> int:
    return dispatch.open_run(run_id)


@shared_task(acks_late=True)
def sweep_unfinished_runs() -> int:
    return len(dispatch.sweep_unfinished_runs())


@shared_task(acks_late=True, **RETRY)
def open_expired_values() -> int:
    return expiry.open_dossiers_for_expired_values()


@shared_task(acks_late=True)
def check_overview_cells() -> int:
    """Compares each organisation's overview cells with a fresh computation, mending any.

    The write paths keep the cells current; this nightly check is the net under a path that
    writes around them (a manual fix in the database, a race between two refreshes).
    """
    from django_scopes import scopes_disabled

    from monitoring import overview
    from organizations.models import Organization

    with scopes_disabled():
        return sum(overview.rebuild(pk) for pk in Organization.objects.values_list("pk", flat=True))


@shared_task(acks_late=True)
def check_profile_schedules() -> int:
    """Compares each organisation's per-profile schedule rows with a fresh computation,
    mending and logging any difference (the net under the write paths, as for the cells)."""
    from django_scopes import scopes_disabled

    from organizations.models import Organization

    with scopes_disabled():
        return sum(rolling.rebuild(pk) for pk in Organization.objects.values_list("pk", flat=True))
