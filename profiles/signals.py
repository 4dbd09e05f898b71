"""Signals of the profiles app, for apps to its right to speak on its pages unimported."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by the profile page with `profile`; each receiver returns {field id: note}, a short
# text shown beside that field's value (an update requested from the client, for one).
value_notes = Signal()

# Sent by profiles.services.apply_values, in its transaction, with `profile` and `rows`
# (the history rows it appended): every change of a value, whoever made it.
values_changed = Signal()

# Sent by the history page with `organization` and `uuids` (of the dossiers its rows came
# from); each receiver returns {uuid: name}, the dossier as people know it ("Annual update of
# 07/12/2026"), so that a link reads as a dossier and not as an identifier.
dossier_names = Signal()
