"""The fixed beat entries, gathered from the apps that own them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class AppsBeatSchedule(Mapping[str, dict[str, Any]]):
    """Each app declares its periodic jobs in `AppConfig.beat_schedule()`; nothing here names
    them. Read lazily, when beat starts and the apps are ready, not when settings load."""

    def _entries(self) -> dict[str, dict[str, Any]]:
        from django.apps import apps

        entries: dict[str, dict[str, Any]] = {}
        for config in apps.get_app_configs():
            declare = getattr(config, "beat_schedule", None)
            if declare is not None:
                entries.update(declare())
        return entries

    def __getitem__(self, name: str) -> dict[str, Any]:
        return self._entries()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())
