"""A real worker killed with SIGKILL between sending a message and marking it sent."""

from __future__ import annotations

import os
import signal
import time

import pytest
from django_scopes import scopes_disabled

from outbox.models import Message
from outbox.tasks import send_messages
from tests.outbox.smtp import SmtpServer
from tests.outbox.test_smtp import _invite
from tests.workers import broker_for_workers, on_broker, start_worker, worker_env


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_between_send_and_mark_resends_at_most_that_message(org, tmp_path):
    broker = broker_for_workers()
    server = SmtpServer()
    server.start()
    env = worker_env(
        broker,
        **server.env(),
        OUTBOX_LEASE_SECONDS="3",
        CELERY_VISIBILITY_TIMEOUT="3",
    )
    log = (tmp_path / "worker.log").open("w")
    options = ("--without-heartbeat", "--without-mingle", "--without-gossip")
    worker = start_worker(env, log, *options)
    killed_during: list[str] = []

    def kill_on_the_15th(received: int) -> None:
        # The server has the message; the worker dies before it hears "250" and marks it.
        if received == 15 and not killed_during:
            killed_during.append(server.handler.received[-1][0])
            os.killpg(worker.pid, signal.SIGKILL)

    server.handler.on_data = kill_on_the_15th
    addresses = [f"k{i}@example.com" for i in range(40)]
    try:
        with on_broker(broker):
            _invite(org, addresses)  # the rows commit and wake the worker's drain
        deadline = time.monotonic() + 60
        while not killed_during and time.monotonic() < deadline:
            time.sleep(0.1)
        assert killed_during, (tmp_path / "worker.log").read_text()[-3000:]
        worker.wait(timeout=30)
        time.sleep(3.5)  # the lease of the dead worker's claim runs out
        worker = start_worker(env, log, *options)
        with on_broker(broker):
            send_messages.delay()  # as beat does every minute

        def unsent() -> int:
            with scopes_disabled():
                return Message.objects.exclude(status="sent").count()

        deadline = time.monotonic() + 90
        while unsent() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert unsent() == 0, (tmp_path / "worker.log").read_text()[-3000:]
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        log.close()
        server.stop()
    counts = server.handler.counts()
    assert set(counts) == set(addresses)
    twice = [address for address, count in counts.items() if count > 1]
    assert twice in ([], killed_during)  # at most the one message in flight, once more
    assert max(counts.values()) <= 2
