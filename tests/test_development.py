"""A newcomer's first hour: e-mails readable as files, a start-up without warnings."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from email import policy
from pathlib import Path

from django.core.mail import EmailMultiAlternatives, get_connection

ROOT = Path(__file__).resolve().parent.parent


def test_each_development_email_is_one_eml_file(settings, tmp_path):
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    messages = []
    for n in (1, 2):
        message = EmailMultiAlternatives(
            f"L'Atelier vous écrit {n}", "Bonjour", "Acme via Back office <a@b.c>", ["c@d.e"]
        )
        message.attach_alternative("<p>Bonjour</p>", "text/html")
        messages.append(message)
    with get_connection("config.mail.EmlFileBackend") as connection:
        assert connection.send_messages(messages) == 2
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    read = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    subjects = sorted(m["Subject"] for m in read)
    assert subjects == ["L'Atelier vous écrit 1", "L'Atelier vous écrit 2"]
    assert read[0].get_body(("html",)).get_content().strip() == "<p>Bonjour</p>"


def test_start_up_logs_no_warning(tmp_path):
    """The embedded defaults: the broker in folders connects without kombu's host warning."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "DATABASE_", "EMAIL_"))
    }
    env.update(VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="config.settings")
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from config.celery import app\n"
        "with app.connection_for_write() as c: c.ensure_connection(max_retries=1)\n"
        "print(settings.EMAIL_BACKEND)\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() == "config.mail.EmlFileBackend"
