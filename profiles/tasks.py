from __future__ import annotations

from celery import shared_task

from profiles import storage


@shared_task(acks_late=True)
def delete_pending_files() -> int:
    return storage.delete_pending()
