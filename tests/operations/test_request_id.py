"""A request's id: from X-Request-ID or made here, on its log lines (JSON with
LOG_FORMAT=json) and carried into the tasks it enqueues."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from celery import shared_task
from django.http import HttpResponse
from django.test import Client, RequestFactory

from config import requestid
from config.logfilters import JsonLines

logger = logging.getLogger("tests.operations.request_id")


@shared_task
def _logging_task() -> None:
    logger.info("in the task")


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """The JSON lines logged meanwhile, as LOG_FORMAT=json writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(requestid.RequestIdFilter())
    handler.setFormatter(JsonLines())
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_proxys_id_is_kept_and_sent_back(db):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID="edge-42.a:b")
    assert response["X-Request-ID"] == "edge-42.a:b"


@pytest.mark.parametrize("given", ["", "two words", "x" * 200, 'quote"d'])
def test_a_missing_or_odd_id_is_replaced_by_ours(db, given):
    response = Client().get("/healthz", HTTP_X_REQUEST_ID=given)
    assert len(response["X-Request-ID"]) == 32
    assert response["X-Request-ID"] != given


def test_the_requests_lines_carry_its_id_as_json(lines):
    def view(request):
        logger.warning("inside, %s", "with an argument")
        return HttpResponse()

    middleware = requestid.RequestIdMiddleware(view)
    middleware(RequestFactory().get("/", HTTP_X_REQUEST_ID="abc123"))
    logger.info("after")
    first, after = _records(lines)
    assert first["request_id"] == "abc123"
    assert first["message"] == "inside, with an argument"
    assert first["level"] == "WARNING"
    assert first["logger"] == "tests.operations.request_id"
    assert first["time"].endswith("+00:00")
    assert after["request_id"] == ""


def test_an_exception_is_one_line_with_its_traceback(lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    [record] = _records(lines)
    assert "ValueError: boom" in record["exception"]


def test_a_task_enqueued_by_a_request_carries_its_id_in_its_headers():
    from tests.workers import on_broker

    token = requestid.current.set("req-7")
    try:
        with on_broker("memory://"):
            from config.celery import app

            _logging_task.delay()
            with app.connection_for_read() as broker:
                message = broker.SimpleQueue("celery").get(timeout=5)
                message.ack()
    finally:
        requestid.current.reset(token)
    assert message.headers[requestid.TASK_HEADER] == "req-7"


def test_a_task_logs_with_the_id_its_message_carried(lines):
    _logging_task.apply(headers={requestid.TASK_HEADER: "req-8"})
    _logging_task.apply()
    with_id, without = _records(lines)
    assert with_id["request_id"] == "req-8"
    assert without["request_id"] == ""


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_real_workers_json_lines_carry_the_id_of_the_request_that_enqueued(tmp_path):
    """A worker on a Redis of its own, logging JSON: the lines of a task enqueued under a
    request's id carry that id."""
    import os
    import signal
    import time

    from django.db import connection

    from profiles.tasks import delete_pending_files
    from tests.conftest import need_service
    from tests.workers import OwnRedis, on_broker, start_worker, worker_env

    need_service(connection.vendor == "postgresql", "PostgreSQL")
    redis = OwnRedis()
    redis.start()
    env = worker_env(redis.url, LOG_FORMAT="json")
    path = tmp_path / "worker.log"
    log = path.open("w")
    worker = start_worker(env, log)
    try:
        with on_broker(redis.url):
            token = requestid.current.set("req-worker-1")
            try:
                delete_pending_files.delay()
            finally:
                requestid.current.reset(token)
        deadline = time.monotonic() + 90
        done: list[dict] = []
        while time.monotonic() < deadline and not done:
            log.flush()
            for line in path.read_text().splitlines():
                if line.startswith("{") and "delete_pending_files" in line:
                    record = json.loads(line)
                    if "succeeded" in record["message"]:
                        done.append(record)
            time.sleep(0.3)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        log.close()
        redis.stop()
    assert done, path.read_text()[-3000:]
    assert done[0]["request_id"] == "req-worker-1"
