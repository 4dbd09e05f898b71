"""Development e-mail: each message as its own .eml file, which any mail client opens."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

logger = logging.getLogger(__name__)


class EmlFileBackend(BaseEmailBackend):
    """Writes each message to EMAIL_FILE_PATH as <time>-<id>.eml and logs where it went.

    Django's file backend appends every message of a connection to one log file; a file per
    message opens in a mail client, HTML part included, and is found by its time.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.folder = Path(settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            name = f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
            path = self.folder / name
            # django-stubs types message() as Django 6's stdlib EmailMessage; Django 5.2
            # returns its SafeMIME classes, whose as_bytes takes the line separator.
            mime = message.message()
            path.write_bytes(mime.as_bytes(linesep="\r\n"))  # type: ignore[call-arg]
            logger.info(
                "E-mail “%s” to %s written to %s", message.subject, ", ".join(message.to), path
            )
            sent += 1
        return sent
