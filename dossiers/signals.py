"""Signals of the dossiers app, for apps to its right (the API's webhooks) to hear unimported.

Each is sent inside the transaction that causes it, so what a receiver writes commits or
rolls back with it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.dispatch import Signal

# `organization_id`, `dossier_ids`: dossiers just opened and sent to their clients.
dossiers_sent = Signal()
# `dossier`: the client submitted their answers (to review, or written back).
dossier_submitted = Signal()
# `dossier`: staff (or an API key) approved every item.
dossier_approved = Signal()
# `organization_id`, `profile_ids`: requests of these profiles were opened, answered, decided,
# expired or deleted (what the compliance overview reads); `opened`, when given, lists the
# dossiers just opened that are all that changed.
requests_changed = Signal()
# Sent by the dossier's page with `dossier`; each receiver returns a list of short texts said
# of it (why it was opened: "Requested because Address changed on 07/12/2026").
dossier_notes = Signal()

# What a receiver may read once per run of many `dossiers_sent` rather than once per chunk
# (an organisation's webhook endpoints): a run's fan-out sends the signal per chunk, and with
# no endpoint the look-up was a query per chunk for nothing. Keyed by the receiver.
_run_memo: ContextVar[dict[Any, Any] | None] = ContextVar("dossiers_run_memo", default=None)


@contextmanager
def one_run() -> Iterator[None]:
    """Around the chunks of one run: receivers may keep what they read until it ends (an
    endpoint added meanwhile hears the next run)."""
    token = _run_memo.set({})
    try:
        yield
    finally:
        _run_memo.reset(token)


def run_memo() -> dict[Any, Any] | None:
    """The current run's memo, or None outside a run (read afresh each time, then)."""
    return _run_memo.get()


# The work receivers fold into the end of one write (`folded`): by key, what to run and the
# ids gathered for it.
_folding: ContextVar[dict[Hashable, tuple[Callable[[set[int]], None], set[int]]] | None] = (
    ContextVar("dossiers_folding", default=None)
)


@contextmanager
def folded() -> Iterator[None]:
    """Around one write that sends several signals about the same rows (a submission's
    write-back says values changed, then the submission says the dossier moved): receivers
    may `fold` what each would recompute into one run at its end, still inside the write's
    transaction. Nothing runs if the write fails. Inside another, it is that one."""
    if _folding.get() is not None:
        yield
        return
    pending: dict[Hashable, tuple[Callable[[set[int]], None], set[int]]] = {}
    token = _folding.set(pending)
    # One write is a run to the receivers' memo too: the write-back's and the submission's
    # events look for the organisation's webhook endpoints once between them.
    memo_token = _run_memo.set({}) if _run_memo.get() is None else None
    try:
        yield
    finally:
        _folding.reset(token)
        if memo_token is not None:
            _run_memo.reset(memo_token)
    for run, ids in pending.values():
        run(ids)


def fold(key: Hashable, ids: Iterable[int], run: Callable[[set[int]], None]) -> bool:
    """Gathers `ids` for one `run(ids)` at the end of the current `folded` write, once per
    `key`; False outside one (the receiver then does its work at once)."""
    pending = _folding.get()
    if pending is None:
        return False
    if key in pending:
        pending[key][1].update(ids)
    else:
        pending[key] = (run, set(ids))
    return True
