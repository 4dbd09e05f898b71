"""What each kind of message says: the app that owns a kind registers how to render it.

A renderer gets the row and returns the e-mail, or None when it is no longer needed (the
dossier closed before its invitation went out). It runs in the row's organisation's scope.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.core.mail import EmailMessage

if TYPE_CHECKING:
    from outbox.models import Message

Renderer = Callable[["Message"], EmailMessage | None]

_renderers: dict[str, Renderer] = {}
_labels: dict[str, str] = {}


def register(kind: str, render: Renderer, label: str) -> None:
    """`label` (lazily translated) names the kind where staff see the message."""
    _renderers[kind] = render
    _labels[kind] = label


def render(message: Message) -> EmailMessage | None:
    return _renderers[message.kind](message)


def label(kind: str) -> str:
    return _labels.get(kind, kind)
