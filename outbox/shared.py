"""An e-mail many readers receive alike, rendered and put in MIME form once.

Its templates are rendered with holes where each reader's own values go (a name, a personal
link); each reader's copy fills them in. Rendering a template and flattening a MIME message
cost milliseconds each, which is more than sending the message over an open SMTP connection:
done once per batch instead of once per reader, they stop being the bottleneck.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from email.utils import formatdate
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import forbid_multi_line_headers
from django.utils.html import escape

from outbox.headers import AUTOMATIC_HEADERS

# Unguessable, so that no value a reader or an organisation chose can pass for a hole.
_SALT = secrets.token_hex(8)
# RFC 5322's limit, past which Django switches a part to quoted-printable.
_MAX_LINE = 998


def text_hole(name: str) -> str:
    """Where `name` (lower case) goes, as is, in a subject or a plain-text body."""
    return f"T{_SALT}{name}T"


def html_hole(name: str) -> str:
    """Where `name` (lower case) goes, HTML-escaped, in an HTML body."""
    return f"H{_SALT}{name}H"


# Names are lower case, the marks around them upper case: a hole ends where its name does.
_HOLE = re.compile(f"([TH]){_SALT}([a-z_]+)[TH]")
_BODY_HOLE = re.compile(_HOLE.pattern.encode())
_TO, _DATE, _ID = (f"X{_SALT}{name}X" for name in ("to", "date", "id"))
_HEADER_HOLE = re.compile(f"X{_SALT}(to|date|id)X".encode())


class SharedEmail:
    """Subject, text and HTML rendered once with holes; `personal` makes a reader's copy."""

    def __init__(
        self,
        subject: str,
        body: str,
        html: str,
        from_email: str,
        reply_to: Sequence[str] = (),
    ) -> None:
        self.subject, self.body, self.html, self.from_email = subject, body, html, from_email
        self.reply_to = list(reply_to)
        self._mime: bytes | None = None
        self._mime_checked = False
        self._ascii_parts = False
        self._longest_line = 0

    def personal(self, to: str, values: Mapping[str, str]) -> EmailMultiAlternatives:
        def fill(text: str) -> str:
            return _HOLE.sub(
                lambda hole: (escape if hole[1] == "H" else str)(values[hole[2]]), text
            )

        email = PersonalEmail(
            subject=fill(self.subject),
            body=fill(self.body),
            from_email=self.from_email,
            to=[to],
            reply_to=self.reply_to,
        )
        email.attach_alternative(fill(self.html), "text/html")
        email.shared, email.values = self, dict(values)
        return email

    def flattened(self, email: PersonalEmail) -> bytes | None:
        """The copy's MIME form with CRLF line ends, as Django's SMTP backend sends it, or
        None when only a message built afresh is right (see `_template`)."""
        template = self._template()
        if template is None or not _plain(email, self):
            return None
        values = email.values
        encoded = {name: value.encode() for name, value in values.items()}
        escaped = {name: escape(value).encode() for name, value in values.items()}
        if any(b"\r" in value or b"\n" in value for value in encoded.values()):
            return None
        if self._ascii_parts and not all(value.isascii() for value in values.values()):
            return None  # the parts would need "8bit", not the template's "7bit"
        # Conservative: each line with holes could hold every value more than once.
        widest = sum(len(value) for value in escaped.values())
        if self._longest_line + 4 * widest > _MAX_LINE:
            return None
        encoding = email.encoding or settings.DEFAULT_CHARSET
        to = forbid_multi_line_headers("To", ", ".join(email.to), encoding)[1]
        headers = {
            b"to": str(to).encode(),
            b"date": (
                email.extra_headers.get("Date")
                or formatdate(localtime=settings.EMAIL_USE_LOCALTIME)
            ).encode(),
            b"id": email.extra_headers["Message-ID"].encode(),
        }
        holes = {b"T": encoded, b"H": escaped}
        filled = _BODY_HOLE.sub(lambda hole: holes[hole[1]][hole[2].decode()], template)
        return _HEADER_HOLE.sub(lambda hole: headers[hole[1]], filled)

    def _template(self) -> bytes | None:
        """The MIME form with holes, or None where filling them in would not give what Django
        builds: a subject with a hole (it may be encoded), or a part in quoted-printable."""
        if self._mime_checked:
            return self._mime
        self._mime_checked = True
        if _HOLE.search(self.subject):
            return None
        email = EmailMultiAlternatives(
            subject=self.subject,
            body=self.body,
            from_email=self.from_email,
            to=[f"{_TO}@example.invalid"],
            reply_to=self.reply_to,
            # In the order Django writes a copy's: its Date, then the outbox's headers.
            headers={"Date": _DATE, **AUTOMATIC_HEADERS, "Message-ID": _ID},
        )
        email.attach_alternative(self.html, "text/html")
        # Django's MIME classes take the line ending the SMTP backend asks for.
        message: Any = email.message()
        encodings = {part["Content-Transfer-Encoding"] for part in message.get_payload()}
        if not encodings <= {"7bit", "8bit"}:
            return None
        # A part in "7bit" must stay ASCII once filled in.
        self._ascii_parts = "7bit" in encodings
        self._longest_line = max(
            len(line.encode()) for line in (self.body + "\n" + self.html).splitlines()
        )
        data = message.as_bytes(linesep="\r\n").replace(
            f"{_TO}@example.invalid".encode(), _TO.encode()
        )
        self._mime = data
        return data


def _plain(email: EmailMultiAlternatives, shared: SharedEmail) -> bool:
    """One addressee and nothing the template was not built with: its Reply-To, and the
    outbox's headers in the order the outbox sets them."""
    headers = [name for name in email.extra_headers if name.lower() != "date"]
    return (
        len(email.to) == 1
        and not (email.cc or email.bcc or email.attachments)
        and list(email.reply_to) == shared.reply_to
        and headers == [*AUTOMATIC_HEADERS, "Message-ID"]
        and all(email.extra_headers[name] == value for name, value in AUTOMATIC_HEADERS.items())
    )


class PersonalEmail(EmailMultiAlternatives):
    """A reader's copy of a `SharedEmail`: the same attributes as any e-mail, and a MIME form
    made by filling in the shared one's holes when that gives what Django would build."""

    shared: SharedEmail
    values: dict[str, str]

    def message(self, **options: Any) -> Any:
        flattened = self.shared.flattened(self) if not options else None
        if flattened is None:
            return super().message(**options)
        return _Flattened(flattened, super().message)


class _Flattened:
    """Bytes ready for SMTP; anything else asked of it is answered by the message built afresh."""

    def __init__(self, data: bytes, build: Callable[[], Any]) -> None:
        self._data, self._build = data, build
        self._built: Any = None

    def _message(self) -> Any:
        if self._built is None:
            self._built = self._build()
        return self._built

    def as_bytes(self, unixfrom: bool = False, linesep: str = "\n") -> bytes:
        if linesep == "\r\n" and not unixfrom:
            return self._data
        return self._message().as_bytes(unixfrom=unixfrom, linesep=linesep)

    def __getitem__(self, name: str) -> Any:
        return self._message()[name]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._message(), name)
