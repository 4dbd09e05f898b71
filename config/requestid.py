"""A request id on every log line: taken from the `X-Request-ID` header (a proxy's) or
made here, sent back in the response, carried into the Celery tasks the request enqueues as
a message header, and set again in the worker while such a task runs, so that a request's
lines and its tasks' lines share one id.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from celery import signals
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# The message header that carries it into a task.
TASK_HEADER = "request_id"
# A proxy's id is kept when it looks like one; anything else (too long, spaces, quotes that
# would break a log line) is replaced by an id of ours.
ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")

current: ContextVar[str] = ContextVar("request_id", default="")


def new_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        request_id = given if ACCEPTED.fullmatch(given) else new_id()
        token = current.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            current.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request or task it belongs to (empty outside)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current.get()
        return True


@signals.before_task_publish.connect
def _carry_into_task(headers: dict[str, Any] | None = None, **_: Any) -> None:
    request_id = current.get()
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


# The token of each running task's id, by task id, to restore what was there before it.
_tokens: dict[str, Token[str]] = {}


@signals.task_prerun.connect
def _enter_task(task_id: str = "", task: Any = None, **_: Any) -> None:
    request = getattr(task, "request", None)
    # A worker reads a message's own headers as attributes of the task's request; a task
    # applied in this process (eager) keeps them in `headers`.
    request_id = getattr(request, TASK_HEADER, None) or (
        getattr(request, "headers", None) or {}
    ).get(TASK_HEADER)
    if isinstance(request_id, str) and ACCEPTED.fullmatch(request_id):
        _tokens[task_id] = current.set(request_id)


@signals.task_postrun.connect
def _leave_task(task_id: str = "", **_: Any) -> None:
    token = _tokens.pop(task_id, None)
    if token is not None:
        current.reset(token)
