"""Signals of the profiles app, for apps to its right to speak on its pages unimported."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by the profile page with `profile`; each receiver returns {field id: note}, a short
# text shown beside that field's value (an update requested from the client, for one).
value_notes = Signal()

# Sent by profiles.services.apply_values, in its transaction, with `profile` and `rows`
# (the history rows it appended): every change of a value, whoever made it.
values_changed = Signal()

# Sent by profiles.actions.create_profile and update_profile, in their transaction, with
# `profile`, `actor` and `changed` (the identity fields that changed; all those given, for a
# new profile): who changed where a person's requests go is the dossiers' four eyes' concern.
identity_changed = Signal()
