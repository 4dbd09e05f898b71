"""The requests each single sign-on makes (the token and the key set) follow no redirect,
take no proxy from the environment and, in production, reach public addresses only, checked
when connecting on the one resolution the connection uses — not only when the provider was
saved (an organisation's administrator names these addresses)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from organizations import netaddr, sso


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Host", "")))
        if self.path == "/jump":
            self.send_response(302)
            self.send_header("Location", "/inside")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"keys": []}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    _Recorder.seen = []
    httpd = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def _session() -> requests.Session:
    return sso._CheckedSession("client", "secret")


def test_a_private_address_is_refused_when_connecting(settings, server):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = False
    host, port = server
    with pytest.raises(requests.ConnectionError):
        _session().get(f"http://{host}:{port}/keys", withhold_token=True)
    assert _Recorder.seen == []  # nothing reached the machine beside us


@pytest.mark.parametrize(
    "hidden",
    [
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "::ffff:10.0.0.1",
        "::7f00:1",  # IPv4-compatible, deprecated: 127.0.0.1
        "::ffff:0:a00:1",  # SIIT's IPv4-translated: 10.0.0.1
        "64:ff9b:1::7f00:1",  # a network's own NAT64 prefix
        "64:ff9b:1:808:800::",  # ...whatever its IPv4 part, 8.8.8.8 included
    ],
)
def test_private_ipv4_hidden_in_ipv6_is_not_public(hidden):
    assert not netaddr.is_public(hidden)
    assert netaddr.is_public("2001:4860:4860::8888") and netaddr.is_public("8.8.8.8")
    assert netaddr.is_public("64:ff9b::808:808")  # NAT64 to a public address stays public


def test_a_redirect_is_not_followed(settings, server):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    host, port = server
    response = _session().get(f"http://{host}:{port}/jump", withhold_token=True)
    assert response.status_code == 302
    assert [path for path, _host in _Recorder.seen] == ["/jump"]


def test_no_proxy_is_taken_from_the_environment(monkeypatch, settings, server):
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = True
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on the discard port
    host, port = server
    assert _session().get(f"http://{host}:{port}/keys", withhold_token=True).status_code == 200


def test_the_connection_uses_the_checked_resolution_and_keeps_the_host_name(
    monkeypatch, settings, server
):
    """A name that answers a public address when checked and a private one afterwards (DNS
    rebinding) is resolved once: the connection goes where the check looked."""
    settings.SSO_ALLOW_PRIVATE_ADDRESSES = False
    _host, port = server
    answers = iter(["127.0.0.1", "10.9.9.9"])
    resolutions: list[str] = []

    real = socket.getaddrinfo

    def resolver(name: str, *args: object, **kwargs: object) -> list[tuple[object, ...]]:
        if name != "idp.example":
            return real(name, *args, **kwargs)  # type: ignore[arg-type]
        address = next(answers)
        resolutions.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(sso.socket, "getaddrinfo", resolver)
    # The loopback server stands for the public address the check saw.
    monkeypatch.setattr(sso, "is_public", lambda address: address == "127.0.0.1")
    response = _session().get(f"http://idp.example:{port}/keys", withhold_token=True)
    assert response.status_code == 200
    assert resolutions == ["127.0.0.1"]
    assert _Recorder.seen == [("/keys", f"idp.example:{port}")]
