from __future__ import annotations

from celery import shared_task

from monitoring import dispatch, expiry


@shared_task
def dispatch_due_groups() -> int:
    return len(dispatch.dispatch_due())


@shared_task(acks_late=True)
def open_run_dossiers(run_id: int) -> int:
    return dispatch.open_run(run_id)


@shared_task
def open_expired_values() -> int:
    return expiry.open_dossiers_for_expired_values()
