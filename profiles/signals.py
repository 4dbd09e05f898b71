"""Signals of the profiles app, for apps to its right to speak on its pages unimported."""

from __future__ import annotations

from django.dispatch import Signal

# Sent by profiles.services.apply_values, in its transaction, with `profile` and `rows`
# (the history rows it appended): every change of a value, whoever made it.
values_changed = Signal()

# Sent by profiles.actions.create_profile and update_profile, in their transaction, with
# `profile`, `actor` and `changed` (the identity fields that changed; all those given, for a
# new profile): who changed where a person's requests go is the dossiers' four eyes' concern.
identity_changed = Signal()

# The same said of many profiles at once by a set-based writer (imports.actions.import_rows),
# in its transaction: `organization_id`, `actor` and `changes`, a list of (profile, the
# identity fields that changed — all those given, for a new profile).
identities_imported = Signal()

# Sent by a set-based writer (imports.actions.import_rows), in its transaction, once per batch
# with `organization_id`, `profiles` (every profile of the batch it created or changed) and
# `rows` (an iterable of the history rows it appended, each with its `profile`, built as they
# are read: each receiver may read them once, or not at all): what `values_changed` says of
# one profile, said of a thousand at once. A receiver of `values_changed` connects here too
# (tests/imports/test_signals.py holds that).
values_imported = Signal()

# Sent by the history page with `organization`, `profile` and `rows` (the page's history
# rows); each receiver returns {row id: note}, what the change caused ("Requested an update:
# Risk review, on 07/12/2026").
history_notes = Signal()

# Sent by the history page with `organization` and `uuids` (of the dossiers its rows came
# from); each receiver returns {uuid: name}, the dossier as people know it ("Annual update of
# 07/12/2026"), so that a link reads as a dossier and not as an identifier.
dossier_names = Signal()
