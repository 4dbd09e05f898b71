"""What a client's mail program sees: who to answer, that no robot should answer, and no
marketing headers; through the development .eml files as through a service. And how the
settings choose the way out."""

from __future__ import annotations

import datetime as dt
import email
import os
import subprocess
import sys
from email import policy
from pathlib import Path

import pytest
from django_scopes import scopes_disabled

from monitoring.dispatch import dispatch_group_now, open_run
from outbox.mail import send_due
from outbox.models import Message
from tests import factories

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(autouse=True)
def _clock(time_machine) -> None:
    time_machine.move_to(dt.datetime(2027, 3, 15, 9, 30, tzinfo=dt.UTC), tick=True)


def _run_and_submission(org) -> None:
    field = factories.field(org, "text", label="Address")
    factories.contact(org, first_name="Jane", last_name="Doe", email="jane@example.com")
    group = factories.group(org, [field])
    open_run(dispatch_group_now(group.pk, fan_out=False))


def test_the_development_files_carry_reply_to_and_auto_submitted(org, settings, tmp_path):
    settings.EMAIL_BACKEND = "config.mail.EmlFileBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    org.contact_email = "office@acme.example"
    org.save()
    _run_and_submission(org)

    assert send_due() == 1

    [path] = sorted((tmp_path / "mail").glob("*.eml"))
    read = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert read["To"] == "jane@example.com"
    assert read["Reply-To"] == "office@acme.example"
    assert read["Auto-Submitted"] == "auto-generated"
    assert read["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert read["From"].startswith("Acme via Back office")
    # A transactional message: nothing a newsletter carries.
    for header in ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence"):
        assert read[header] is None
    with scopes_disabled():
        assert Message.objects.get().provider_id == ""  # files and SMTP have no service id


def test_without_a_contact_address_there_is_no_reply_to(org, settings, tmp_path):
    settings.EMAIL_BACKEND = "config.mail.EmlFileBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    _run_and_submission(org)
    assert send_due() == 1
    [path] = sorted((tmp_path / "mail").glob("*.eml"))
    read = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert read["Reply-To"] is None
    assert read["Auto-Submitted"] == "auto-generated"


def test_a_service_gets_the_same_headers_and_gives_its_id(org, settings):
    from django.core import mail

    from tests.outbox.services import ServiceBackend

    settings.EMAIL_BACKEND = "tests.outbox.services.ServiceBackend"
    org.contact_email = "office@acme.example"
    org.save()
    _run_and_submission(org)
    ServiceBackend.ids = ["service-id-1"]

    assert send_due() == 1

    [sent] = mail.outbox
    params = sent.anymail_test_params
    assert params["reply_to"][0].addr_spec == "office@acme.example"
    assert params["extra_headers"]["Auto-Submitted"] == "auto-generated"
    with scopes_disabled():
        assert Message.objects.get().provider_id == "service-id-1"


def _settings_of(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "DATABASE_"))}
    clean.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "print(settings.EMAIL_BACKEND)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({}, "config.mail.EmlFileBackend"),
        ({"EMAIL_HOST": "smtp.example.com"}, "django.core.mail.backends.smtp.EmailBackend"),
        (
            {"EMAIL_SERVICE": "postmark", "EMAIL_WEBHOOK_SECRET": "a:b"},
            "anymail.backends.postmark.EmailBackend",
        ),
        (
            {"EMAIL_SERVICE": "Amazon_SES", "EMAIL_WEBHOOK_SECRET": "a:b"},
            "anymail.backends.amazon_ses.EmailBackend",
        ),
    ],
)
def test_the_environment_chooses_the_way_out(env, backend, tmp_path):
    result = _settings_of({**env, "VAR_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == backend


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"EMAIL_SERVICE": "pigeon"}, "EMAIL_SERVICE: 'pigeon' is not one of"),
        ({"EMAIL_SERVICE": "postmark"}, "EMAIL_WEBHOOK_SECRET is missing"),
        (
            {"EMAIL_SERVICE": "mailgun", "EMAIL_WEBHOOK_SECRET": "a:b"},
            "EMAIL_WEBHOOK_SIGNING_KEY is missing",
        ),
    ],
)
def test_an_incomplete_service_refuses_to_start(env, says, tmp_path):
    result = _settings_of({**env, "VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert says in result.stderr
