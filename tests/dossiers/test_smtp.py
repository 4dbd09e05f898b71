from __future__ import annotations

import runpy
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from django.core.mail import get_connection

from dossiers.tasks import send_invitations
from tests import factories
from tests.conftest import _free_port

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos, envelope.content))
        return "250 OK"


def test_invitations_go_through_a_real_smtp_server_with_the_projects_settings(org, settings):
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        env = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(port)}
        with mock.patch.dict("os.environ", env):
            built = runpy.run_path(str(settings.BASE_DIR / "config" / "settings.py"))
        for name in ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS"):
            setattr(settings, name, built[name])
        assert get_connection().__class__.__module__ == "django.core.mail.backends.smtp"
        field = factories.field(org, "text")
        profile = factories.contact(org, email="client@example.com", language="fr")
        dossier = factories.dossier(org, profile, [field])
        assert send_invitations([dossier.pk]) == 1
    finally:
        controller.stop()
    [(_sender, recipients, content)] = inbox.messages
    assert recipients == ["client@example.com"]
    assert b"/d/" in content
