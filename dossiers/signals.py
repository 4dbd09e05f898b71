"""Signals of the dossiers app, for apps to its right (the API's webhooks) to hear unimported.

Each is sent inside the transaction that causes it, so what a receiver writes commits or
rolls back with it.
"""

from __future__ import annotations

from django.dispatch import Signal

# `organization_id`, `dossier_ids`: dossiers just opened and sent to their clients.
dossiers_sent = Signal()
# `dossier`: the client submitted their answers (to review, or written back).
dossier_submitted = Signal()
# `dossier`: staff (or an API key) approved every item.
dossier_approved = Signal()
# `organization_id`, `profile_ids`: requests of these profiles were opened, answered, decided,
# expired or deleted (what the compliance overview reads).
requests_changed = Signal()
