"""Signals organisations send, for the apps to their right to act on without being imported."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that saves the new time zone; kwargs: organization.
time_zone_changed = Signal()
