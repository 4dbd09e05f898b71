from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.outbox.smtp import SmtpServer


@pytest.fixture
def smtp(settings) -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    server.configure(settings)
    try:
        yield server
    finally:
        server.stop()
