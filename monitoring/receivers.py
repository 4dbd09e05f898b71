"""Receivers that keep the per-profile schedule rows of rolling and tiered groups current,
inside the transaction of the write that moved them (as `overview.connect` keeps the cells)."""

from __future__ import annotations

from typing import Any

from django_scopes import scopes_disabled

from monitoring import actions, overview, rolling
from monitoring.models import GroupField, UpdateGroup
from organizations.actors import Actor, current_actor
from organizations.models import Organization
from profiles.models import DataField, Profile


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


def _field_archived_or_restored(
    instance: DataField, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    """A condition on an archived field holds for nobody: the groups whose audience names it
    ask nobody from now on (and again their audience when it is restored). Their cells and
    rows follow at once, not at the nightly check; only the archive and restore actions
    save the flag alone, so other saves of a field cost nothing here."""
    if raw or update_fields is None or set(update_fields) != {"archived_at"}:
        return
    with scopes_disabled():
        named = [
            pk
            for pk, audience in UpdateGroup.objects.filter(
                organization_id=instance.organization_id
            ).values_list("pk", "audience")
            if any(condition.get("field") == str(instance.uuid) for condition in audience or [])
        ]
        if not named:
            return
        fields = GroupField.objects.filter(group_id__in=named).values_list("field_id", flat=True)
        overview.refresh(instance.organization_id, field_ids=list(fields))
        rolling.refresh(instance.organization_id, group_ids=named)


def connect() -> None:
    """Wires the writes that move a profile's schedule to `rolling.refresh` (from the
    AppConfig); the group's own saves call it from `actions.save_group`."""
    from django.db.models.signals import post_save

    from organizations.signals import time_zone_changed
    from profiles import signals as profile_signals

    post_save.connect(_profile_saved, sender=Profile, dispatch_uid="schedules-profile")
    post_save.connect(
        _field_archived_or_restored, sender=DataField, dispatch_uid="schedules-audience-field"
    )
    time_zone_changed.connect(_time_zone_changed, dispatch_uid="schedules-time-zone")
    profile_signals.values_changed.connect(_values_changed, dispatch_uid="schedules-values")
    profile_signals.values_imported.connect(_values_imported, dispatch_uid="schedules-imported")
