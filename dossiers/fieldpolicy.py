"""What the groups of a dossier's fields decide for it, asked of the app that keeps them.

dossiers sits left of monitoring and reads no group: monitoring registers its policy when it
starts (`MonitoringConfig.ready`). Without one, no field asks for review and fresh evidence
clears a value's expiry date.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from profiles.models import DataField
from profiles.services import ExpiryRule


class FieldPolicy(Protocol):
    def review_required(self, fields: Sequence[DataField]) -> bool:
        """Whether any of `fields` belongs to a group whose answers staff review."""
        ...

    def expiry_after_evidence(self, fields: Sequence[DataField]) -> ExpiryRule:
        """For each of `fields`, its value's expiry date after fresh evidence today."""
        ...


class _NoGroups:
    def review_required(self, fields: Sequence[DataField]) -> bool:
        return False

    def expiry_after_evidence(self, fields: Sequence[DataField]) -> ExpiryRule:
        return lambda field: None


_policy: list[FieldPolicy] = [_NoGroups()]


def register(policy: FieldPolicy) -> None:
    _policy[:] = [policy]


def policy() -> FieldPolicy:
    return _policy[0]
