"""Signals organisations send, for the apps to their right to act on without being imported."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that saves the new time zone; kwargs: organization.
time_zone_changed = Signal()

# Sent inside the transaction that removes a member; kwargs: organization, user, actor.
# What the member left behind that acts in their name (API keys) goes with them.
member_removed = Signal()
