"""What each kind of message says: the app that owns a kind registers how to render it.

A renderer gets the row and returns the e-mail, or None when it is no longer needed (the
dossier closed before its invitation went out). It runs in the row's organisation's scope.

A kind sent in bulk also registers a batch renderer: it gets the rows of one batch of one
organisation at once, so that what they need is read and written in a statement per batch
rather than per message, and returns an e-mail (or None) per row. `related` names what the
drain should load with each row (`select_related` paths), so that no renderer reads it row by
row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.mail import EmailMessage
from django.utils.functional import Promise

if TYPE_CHECKING:
    from outbox.models import Message


@dataclass(frozen=True)
class Carried:
    """What a renderer returns for a message whose content goes out inside another one
    (`by`, that message's id), such as the requests of one day in one e-mail: the drain
    sends nothing for it and gives it that message's outcome, once there is one."""

    by: int


Rendered = EmailMessage | Carried | None
Renderer = Callable[["Message"], Rendered]
BatchRenderer = Callable[[Sequence["Message"]], dict[int, Rendered]]

_renderers: dict[str, Renderer] = {}
_batch_renderers: dict[str, BatchRenderer] = {}
_labels: dict[str, str | Promise] = {}
_related: dict[str, tuple[str, ...]] = {}


def register(
    kind: str,
    render: Renderer,
    label: str | Promise,
    *,
    render_batch: BatchRenderer | None = None,
    related: tuple[str, ...] = (),
) -> None:
    """`label` (lazily translated) names the kind where staff see the message."""
    _renderers[kind] = render
    _labels[kind] = label
    _related[kind] = related
    if render_batch is not None:
        _batch_renderers[kind] = render_batch
    else:
        _batch_renderers.pop(kind, None)


def render(message: Message) -> Rendered:
    return _renderers[message.kind](message)


def render_batch(kind: str) -> BatchRenderer | None:
    return _batch_renderers.get(kind)


def related() -> tuple[str, ...]:
    return tuple(sorted({path for paths in _related.values() for path in paths}))


def label(kind: str) -> str:
    return str(_labels.get(kind, kind))
