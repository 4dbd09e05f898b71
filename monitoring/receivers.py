"""Receivers that keep the per-profile schedule rows of rolling and tiered groups current,
inside the transaction of the write that moved them (as `overview.connect` keeps the cells)."""

from __future__ import annotations

from typing import Any

from django_scopes import scopes_disabled

from monitoring import actions, rolling
from organizations.actors import Actor, current_actor
from organizations.models import Organization
from profiles.models import Profile


def _actor() -> Actor:
    """Whoever is writing (a member, an API key, an import's member), else the system."""
    return current_actor(Actor.system("schedule"))


def _profile_saved(instance: Profile, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        rolling.refresh(instance.organization_id, profile_ids=[instance.pk])


def _values_changed(profile: Profile, **kwargs: Any) -> None:
    moved = rolling.refresh(profile.organization_id, profile_ids=[profile.pk])
    with scopes_disabled():
        actions.record_tier_moves(
            organization_id=profile.organization_id,
            moved=moved,
            actor=_actor(),
            profiles={profile.pk: profile},
        )


def _values_imported(organization_id: int, profiles: list[Profile], **kwargs: Any) -> None:
    """A batch's rows follow in a few statements (`rolling.refresh` of its profiles), and the
    tier changes that moved them are said in one write of the history."""
    by_id = {profile.pk: profile for profile in profiles}
    moved = rolling.refresh(organization_id, profile_ids=list(by_id))
    with scopes_disabled():
        actions.record_tier_moves(
            organization_id=organization_id, moved=moved, actor=_actor(), profiles=by_id
        )


def _time_zone_changed(organization: Organization, **kwargs: Any) -> None:
    """Local due days and their 08:00 moments follow the organisation's new zone."""
    rolling.refresh(organization.pk)


def connect() -> None:
    """Wires the writes that move a profile's schedule to `rolling.refresh` (from the
    AppConfig); the group's own saves call it from `actions.save_group`."""
    from django.db.models.signals import post_save

    from organizations.signals import time_zone_changed
    from profiles import signals as profile_signals

    post_save.connect(_profile_saved, sender=Profile, dispatch_uid="schedules-profile")
    time_zone_changed.connect(_time_zone_changed, dispatch_uid="schedules-time-zone")
    profile_signals.values_changed.connect(_values_changed, dispatch_uid="schedules-values")
    profile_signals.values_imported.connect(_values_imported, dispatch_uid="schedules-imported")
