"""An import is a door like any other: whatever hears a value change hears an import's."""

from __future__ import annotations

import weakref

from profiles import signals


def _modules(signal) -> set[str]:
    found = set()
    for entry in signal.receivers:
        receiver = entry[1]
        if isinstance(receiver, weakref.ReferenceType):
            receiver = receiver()
        if receiver is not None:
            found.add(receiver.__module__)
    return found


def test_every_receiver_of_a_value_change_hears_a_batch_of_them():
    heard = _modules(signals.values_changed)
    assert {"monitoring.overview", "api.events"} <= heard
    assert _modules(signals.values_imported) == heard
