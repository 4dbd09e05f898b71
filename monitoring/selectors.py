"""Whom a group asks, and which groups are due: each rule named once.

- `asked_by(organization, kind)`: the profiles a group of that type asks, every active one
  (the dispatcher's chunks, the count the group form shows, the group page's list).
- `due_q(now)` / `due_sql(alias)`: a group is due when it is active and its next run's
  moment has come; the dispatcher claims them through the ORM (`_claim`) or in its one
  PostgreSQL statement (`_dispatch_in_database`). tests/monitoring/test_selectors.py proves
  on random groups that both forms select the same ones.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.db.models import Q
from django_scopes import scopes_disabled

from monitoring.models import DispatchPass, UpdateRun
from profiles.models import Profile, ProfileQuerySet


def asked_by(organization: Any, kind: str) -> ProfileQuerySet:
    """The profiles a group of `kind` (contacts or companies) of `organization` asks."""
    # The stubs cannot see through django-scopes' manager: the QuerySet is named here.
    profiles = cast(ProfileQuerySet, Profile.objects.filter(organization=organization))
    return profiles.active().of_kind(kind)


def due_q(now: dt.datetime) -> Q:
    """The groups whose next run is due at `now` (the partial index `group_due` serves it)."""
    return Q(is_active=True, next_run_at__lte=now)


def due_sql(alias: str) -> str:
    """`due_q` for the group a statement names `alias`, `now` bound as `%(now)s`."""
    return f"{alias}.is_active AND {alias}.next_run_at <= %(now)s"


def unfinished_runs_count(organization_id: int | None = None) -> int:
    """Runs recorded and not finished (the partial index `unfinished_runs` holds them): all
    organisations' for the operators' metrics, one's for its status page."""
    with scopes_disabled():
        runs = UpdateRun.objects.filter(finished_at__isnull=True)
        if organization_id is not None:
            runs = runs.filter(organization_id=organization_id)
        return runs.count()


def last_dispatch_pass() -> DispatchPass | None:
    """The scheduled dispatcher's latest pass, if it ever ran."""
    return DispatchPass.objects.filter(pk=1).first()
