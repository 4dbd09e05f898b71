"""Webhooks connect to the address that was checked, and nowhere else (DNS rebinding).

The name is resolved once per delivery; the connection goes to that answer, with the name
kept in the Host header and as the TLS server name. A refused or failing target tells the
page what kind of failure it was, never what the other side said.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from django_scopes import scopes_disabled

from api import webhooks
from api.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

NAME = "hooks.example.test"
_real_getaddrinfo = socket.getaddrinfo


class Resolver:
    """Answers `answers[i]` to the i-th question about NAME (the last one after that)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *answers: str) -> None:
        self.answers = answers
        self.asked = 0
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host, port, *args, **kwargs):
        if host != NAME:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        address = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]


class Receiver:
    """A real server on loopback that answers 500 with a body worth stealing."""

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        self.received: list[dict[str, str]] = []
        self.server_names: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(dict(self.headers))
                body = b"internal secret: s3cr3t"
                self.send_response(500, "Internal detail")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        if context is not None:
            context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365 * 30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _deliver(org, url: str) -> WebhookDelivery:
    with scopes_disabled():
        endpoint = WebhookEndpoint.objects.create(
            organization=org, url=url, events=["value.changed"]
        )
        WebhookDelivery.objects.bulk_create([webhooks._test_delivery(endpoint)])
    webhooks.deliver_due()
    with scopes_disabled():
        return WebhookDelivery.objects.get()


def test_a_name_that_answers_a_private_address_the_second_time_is_not_followed(
    org, settings, monkeypatch, receiver
):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    # The public answer is a stranger's resolver, not listening on the receiver's port:
    # the pinned connection fails (at once offline, within the timeout online).
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 1)
    resolver = Resolver(monkeypatch, "8.8.8.8", "127.0.0.1")
    delivery = _deliver(org, f"http://{NAME}:{receiver.port}/hooks")
    assert receiver.received == []
    assert resolver.asked == 1
    assert delivery.response_code is None and delivery.status == "queued"
    assert "500" not in delivery.last_error and "s3cr3t" not in delivery.last_error


def test_every_answer_is_checked_and_a_private_one_refuses_the_delivery(
    org, settings, monkeypatch, receiver
):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    Resolver(monkeypatch, "127.0.0.1")
    delivery = _deliver(org, f"http://{NAME}:{receiver.port}/hooks")
    assert receiver.received == []
    assert delivery.status == "undeliverable" and delivery.response_code is None
    assert "private" in delivery.last_error


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "::1",
        "::ffff:127.0.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "224.0.0.1",
        "ff0e::1",
        "100.64.0.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 - an address to refuse, not to bind
    ],
)
def test_private_local_and_embedded_addresses_are_refused(settings, monkeypatch, address):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    Resolver(monkeypatch, address)
    with pytest.raises(ValidationError):
        webhooks.resolve(f"https://{NAME}/hooks")


def test_a_global_address_is_accepted(settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = False
    Resolver(monkeypatch, "93.184.215.14")
    target = webhooks.resolve(f"https://{NAME}:8443/hooks?x=1")
    assert (target.address, target.host_header, target.path) == (
        "93.184.215.14",
        f"{NAME}:8443",
        "/hooks?x=1",
    )


def test_the_connection_goes_to_the_resolved_address_and_keeps_the_host(
    org, settings, monkeypatch, receiver
):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    # The second answer would lead nowhere: only the first one may be used.
    resolver = Resolver(monkeypatch, "127.0.0.1", "192.0.2.10")
    delivery = _deliver(org, f"http://{NAME}:{receiver.port}/hooks")
    assert resolver.asked == 1
    [headers] = receiver.received
    assert headers["Host"] == f"{NAME}:{receiver.port}"
    assert delivery.response_code == 500 and "s3cr3t" not in delivery.last_error


def test_https_keeps_the_server_name_and_checks_the_certificate_for_it(
    org, settings, monkeypatch, tmp_path
):
    settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES = True
    Resolver(monkeypatch, "127.0.0.1")
    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = Receiver(context)
    try:
        # A certificate nobody vouches for is refused, after the name was sent (SNI).
        delivery = _deliver(org, f"https://{NAME}:{server.port}/hooks")
        assert server.received == [] and server.server_names == [NAME]
        assert delivery.response_code is None
        assert delivery.last_error == "TLS handshake or certificate refused"
        # Once trusted, the certificate is valid for the name, though the address is an IP.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        with scopes_disabled():
            WebhookDelivery.objects.update(next_attempt_at=delivery.created_at)
        webhooks.deliver_due(delivery.created_at + dt.timedelta(days=1))
        [headers] = server.received
        assert headers["Host"] == f"{NAME}:{server.port}"
        assert server.server_names == [NAME, NAME]
        with scopes_disabled():
            delivery.refresh_from_db()
        assert delivery.response_code == 500
    finally:
        server.close()
