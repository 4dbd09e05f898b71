"""A real SMTP server for the tests: aiosmtpd on loopback, which refuses the addresses it is
told to refuse and can go down and come back on the same port."""

from __future__ import annotations

import email
import runpy
from collections import Counter
from unittest import mock

from aiosmtpd.controller import Controller

from tests.conftest import _free_port


class Handler:
    def __init__(self) -> None:
        self.received: list[tuple[str, email.message.Message]] = []
        self.refused: set[str] = set()  # 550, for good
        self.deferred: set[str] = set()  # 451, try again later
        self.on_data = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refused:
            return "550 5.1.1 No such user here"
        if address in self.deferred:
            return "451 4.2.0 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        for address in envelope.rcpt_tos:
            self.received.append((address, message))
        if self.on_data is not None:
            self.on_data(len(self.received))
        return "250 OK"

    def counts(self) -> Counter[str]:
        return Counter(address for address, _message in self.received)


class SmtpServer:
    def __init__(self) -> None:
        self.port = _free_port()
        self.handler = Handler()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def env(self) -> dict[str, str]:
        return {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port), "EMAIL_TIMEOUT": "5"}

    def configure(self, settings) -> None:
        """The project's own SMTP settings, as config/settings.py builds them."""
        with mock.patch.dict("os.environ", self.env()):
            built = runpy.run_path(str(settings.BASE_DIR / "config" / "settings.py"))
        for name in ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "EMAIL_TIMEOUT"):
            setattr(settings, name, built[name])
