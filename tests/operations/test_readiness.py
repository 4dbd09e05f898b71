"""/readyz and /metrics with each dependency stopped in turn: the database (through a TCP
proxy of the test's own to the PostgreSQL server, never the shared test database itself),
Redis (a server of the test's own) and storage (moto's server of the test's own). The one
stopped is named, and neither page hangs past the checks' timeout."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import need_service
from tests.workers import OwnRedis, on_broker

# The checks' timeout (2 s) and the little the page adds: a hang shows as far more.
HANG = 6.0


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the PostgreSQL server. `stop()` freezes it: connections
    are still accepted and never answered, the worst kind of outage; `start()` forwards
    again."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.frozen = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.frozen.is_set():
                continue
            upstream = socket.create_connection(self.target)
            self.sockets.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        self.frozen.set()

    def start(self) -> None:
        self.frozen.clear()

    def close(self) -> None:
        self.server.close()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def database_proxy(monkeypatch) -> Iterator[TcpProxy]:
    need_service(connection.vendor == "postgresql", "PostgreSQL")
    settings_dict = connection.settings_dict
    proxy = TcpProxy((settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)))
    # Only connections opened from now on go through it: the readiness check's own. The
    # test's connection, already open, stays where it is.
    connection.ensure_connection()
    monkeypatch.setitem(settings_dict, "HOST", "127.0.0.1")
    monkeypatch.setitem(settings_dict, "PORT", str(proxy.port))
    yield proxy
    proxy.close()


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    redis = OwnRedis()
    redis.start()
    with on_broker(redis.url):
        yield redis
    redis.stop()


@pytest.fixture
def metrics_token(settings) -> str:
    settings.METRICS_TOKEN = "scrape-token"
    return settings.METRICS_TOKEN


def _readyz() -> tuple[int, dict[str, str]]:
    began = time.monotonic()
    response = Client().get("/readyz")
    assert time.monotonic() - began < HANG
    return response.status_code, json.loads(response.content)


def _metrics(token: str) -> str:
    began = time.monotonic()
    response = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert time.monotonic() - began < HANG
    assert response.status_code == 200
    return response.content.decode()


def _up(text: str) -> dict[str, bool]:
    prefix = 'backoffice_dependency_up{dependency="'
    return {
        line[len(prefix) :].split('"', 1)[0]: line.endswith(" 1.0")
        for line in text.splitlines()
        if line.startswith(prefix)
    }


ALL_UP = {"status": "ok", "database": "ok", "broker": "ok", "storage": "ok"}


def test_ready_on_the_embedded_defaults(db):
    assert _readyz() == (200, ALL_UP)


@pytest.mark.services
def test_each_dependency_stopped_in_turn_is_named(
    db, database_proxy, own_redis, stoppable_s3, metrics_token
):
    assert _readyz() == (200, ALL_UP)
    assert _up(_metrics(metrics_token)) == {"database": True, "broker": True, "storage": True}

    outages = {
        "database": (database_proxy.stop, database_proxy.start),
        "broker": (own_redis.stop, own_redis.start),
        "storage": (stoppable_s3.stop, stoppable_s3.start),
    }
    for name, (stop, start) in outages.items():
        stop()
        try:
            status, body = _readyz()
            assert status == 503, name
            assert body["status"] == "unavailable"
            assert body[name] != "ok", name
            assert {other for other, state in body.items() if state == "ok"} == (
                set(ALL_UP) - {"status", name}
            ), body
            text = _metrics(metrics_token)
            assert _up(text) == {dep: dep != name for dep in outages}, name
            # Without the database the product's gauges are left out, never guessed.
            assert ("backoffice_outbox_messages_waiting" in text) == (name != "database")
        finally:
            start()
        assert _readyz() == (200, ALL_UP), name


def test_a_head_request_is_answered_too(db):
    assert Client().head("/readyz").status_code == 200
