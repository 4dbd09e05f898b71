"""Signals of the monitoring app, for apps to its right (the API's webhooks) to hear."""

from __future__ import annotations

from django.dispatch import Signal

# `run`: a run finished opening its dossiers.
run_finished = Signal()
# `organization`, `values`: [(profile id, field id, expiry date)] found expired today.
values_expired = Signal()
