"""Counts of an organisation's dossiers, cached under a version renewed on each write.

Counting 200,000 dossiers (the list's total) or a run's 100,000 (its follow-up's counts by
status) is most of their page. Every write that adds or deletes dossiers or moves their
status (`touched`, called by the signals of those writes and by the few writes that send
none) renews the organisation's version once it commits; a count is cached under the
version it was read after, so the first view after a write counts afresh. A count read
before a commit is only ever kept under the version that commit replaces.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from types import EllipsisType
from typing import Any, TypeVar

from django.core.cache import cache
from django.db import IntegrityError, transaction

from dossiers.models import DossierState

T = TypeVar("T")

# A bound, not the freshness: a write is seen at once through the version; this only limits
# how long a renewal lost with its process (killed between the commit and the renewal)
# leaves a count behind.
COUNTS_SECONDS = 300


class _Renewal:
    """The renewal of one organisation's version, once a write commits."""

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Renewal) and other.organization_id == self.organization_id

    def __hash__(self) -> int:
        return hash(self.organization_id)

    def __call__(self) -> None:
        # A random version, not a counter: one never comes back, so no count cached under an
        # old one can be read again, whatever rolled back in between.
        state = DossierState.objects.filter(organization_id=self.organization_id)
        if state.update(version=secrets.randbits(62)):
            return
        if _created(self.organization_id) is None:
            # Created meanwhile by a reader, whose count may predate our commit: renewed.
            state.update(version=secrets.randbits(62))


def _created(organization_id: int) -> int | None:
    """A first version for the organisation, or None if another was created first."""
    version = secrets.randbits(62)
    try:
        with transaction.atomic():
            DossierState.objects.create(organization_id=organization_id, version=version)
    except IntegrityError:
        return None
    return version


# The organisations touched inside `renewed_once`, renewed when it ends.
_deferred: ContextVar[set[int] | None] = ContextVar("dossier_counts_deferred", default=None)


@contextmanager
def renewed_once() -> Iterator[None]:
    """Around a request of several writes (a client's page opened, drafted and submitted),
    one renewal at its end rather than one after each: counts read in between may still be
    the ones from before, never after it ends. A write rolled back still renews, which is
    only a count read again."""
    pending: set[int] = set()
    token = _deferred.set(pending)
    try:
        yield
    finally:
        _deferred.reset(token)
        for organization_id in sorted(pending):
            touched(organization_id)


def touched(organization_id: int, **kwargs: Any) -> None:
    """The organisation's dossiers change in the current transaction: their counts are
    renewed when it commits (at once outside a transaction)."""
    pending = _deferred.get()
    if pending is not None:
        pending.add(organization_id)
        return
    transaction.on_commit(_Renewal(organization_id))


def current(organization_id: int) -> int | None:
    return (
        DossierState.objects.filter(organization_id=organization_id)
        .values_list("version", flat=True)
        .first()
    )


def cached(
    organization_id: int, name: str, count: Callable[[], T], *, version: int | None = None
) -> T:
    """`count()`, kept under the organisation's version: one small query while no write
    commits. An organisation without a version yet is given one, counted after it.

    `version`, when the caller read it already in one of its own queries (the tenancy
    middleware reads it with the memberships), spares that query; it must have been read
    before the count, as here."""
    if version is None:
        version = current(organization_id)
    if version is None:
        version = _created(organization_id)
        if version is None:
            return count()
    key = f"dossier-counts:{organization_id}:{version}:{name}"
    found = cache.get(key)
    if found is None:
        found = count()
        cache.set(key, found, COUNTS_SECONDS)
    return found


def _dossier_moved(dossier: Any, **kwargs: Any) -> None:
    touched(dossier.organization_id)


def connect() -> None:
    """Every signal of a write that opens, answers, decides, expires or deletes dossiers
    renews their counts (from the AppConfig); the writes that send none call `touched`."""
    from dossiers import signals

    # Dossiers opened send it too, with their profiles.
    signals.requests_changed.connect(touched, dispatch_uid="dossier-counts-requests")
    for signal in (signals.dossier_submitted, signals.dossier_approved):
        signal.connect(_dossier_moved, dispatch_uid="dossier-counts-moved")


# The name under which each membership of the request carries its organisation's version.
MEMBERSHIP_VERSION = "dossier_counts_version"


def read_with_memberships() -> None:
    """Every signed-in page shows the count of dossiers to review (the menu's badge): the
    version it is cached under comes with the memberships the tenancy middleware reads
    (organizations.middleware), not in a query of its own."""
    from django.db.models import OuterRef, Subquery

    from organizations.middleware import MEMBERSHIP_ANNOTATIONS

    MEMBERSHIP_ANNOTATIONS[MEMBERSHIP_VERSION] = Subquery(
        DossierState.objects.filter(organization_id=OuterRef("organization_id")).values("version")[
            :1
        ]
    )


# The version was not read with the request (no membership): `cached` reads it.
UNREAD: EllipsisType = ...


def of_request(request: Any) -> int | EllipsisType | None:
    """The version read with the request's membership: None if the organisation has none
    yet, UNREAD if the request has no membership."""
    from organizations.middleware import membership_value

    version: int | EllipsisType | None = membership_value(request, MEMBERSHIP_VERSION)
    return version
