"""Who answers a dossier: its recipients, the one rule in the three forms the code needs.

A contact answers for itself; a company answers through its representatives (its contacts
who represent it). Nobody archived is asked, and nothing is asked for an archived profile.
An e-mail goes to the recipients with an address; one without can still answer, through
staff filling in the page on their behalf, so the address is not part of being one.

- `is_recipient(dossier, person)` reads loaded rows, no query: the portal checks it on every
  visit and the outbox drain for every link it renders.
- `recipients(dossier)` reads the database: the dossier page, the staff's own link and the
  confirmations.
- `addressed_recipients_sql(...)` is the SQL of the outbox's INSERT … SELECT
  (`dossiers.messages.link_messages_statements`, and `link_messages_ctes`, which the
  fan-out keeps in its one statement).

tests/dossiers/test_selectors.py proves on random data that the three select the same
people, on SQLite and, in CI's PostgreSQL leg, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType
from typing import Any, cast

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Lower

from dossiers import versions
from dossiers.models import Dossier, DossierMessage
from outbox.models import FailingAddress, Message
from profiles.models import Kind, Profile, ProfileQuerySet
from profiles.selectors import active_q, active_sql


def is_recipient(dossier: Dossier, person: Profile) -> bool:
    """Whether `person` may answer `dossier` (both loaded, the dossier with its profile)."""
    asked = dossier.profile
    if person.is_archived or asked.is_archived:
        return False
    if asked.kind == Kind.CONTACT:
        return person.pk == asked.pk
    return person.company_id == asked.pk and person.is_representative


def recipients_of(dossier: Dossier) -> ProfileQuerySet:
    """The recipients of `dossier` as a query, by name."""
    contact_itself = Q(pk=dossier.profile_id, kind=Kind.CONTACT)
    representative = active_q("company") & Q(
        company_id=dossier.profile_id, company__kind=Kind.COMPANY, is_representative=True
    )
    # The stubs cannot see through django-scopes' manager: the QuerySet is named here.
    tenant = cast(ProfileQuerySet, Profile.objects.filter(organization_id=dossier.organization_id))
    return (
        tenant.active()
        .filter(contact_itself | representative)
        .order_by("last_name", "first_name", "id")
    )


def recipients(dossier: Dossier) -> list[Profile]:
    """The recipients of `dossier`, by name. A contact's dossier needs no query: its one
    possible recipient is loaded with it."""
    if dossier.profile.kind == Kind.CONTACT:
        return [dossier.profile] if is_recipient(dossier, dossier.profile) else []
    return list(recipients_of(dossier))


def addressed_recipients_sql(
    dossiers: str,
    dossier_params: Sequence[object],
    *,
    profiles: tuple[str, Sequence[object]] | None = None,
) -> tuple[str, list[object]]:
    """The recipients with an address of the dossiers of the relation `dossiers` (SQL with
    columns id, organization_id, profile_id, and its parameters): rows of organization_id,
    dossier_id, profile_id, email, language.

    `profiles`, a condition on the dossiers' profiles ("{}" standing for the column) with
    its parameters, lets PostgreSQL look up those profiles and their representatives by
    index rather than read the whole table for a CTE whose rows it cannot foresee."""
    table = Profile._meta.db_table
    condition, bound = profiles or ("", ())
    by_id = f" AND {condition.format('p.id')}" if profiles else ""
    by_company = f" AND {condition.format('c.id')}" if profiles else ""
    # Two joins, each on an index, rather than one join on an OR, which PostgreSQL can only
    # nest-loop (10,000 dossiers: 9.8 s against 0.67 s).
    sql = f"""
        SELECT d.organization_id, d.id AS dossier_id, p.id AS profile_id, p.email, p.language
        FROM {dossiers} d
        JOIN {table} p ON p.id = d.profile_id
        WHERE p.kind = %s AND {active_sql("p")} AND p.email <> ''{by_id}
        UNION ALL
        SELECT d.organization_id, d.id, p.id, p.email, p.language
        FROM {dossiers} d
        JOIN {table} c ON c.id = d.profile_id
        JOIN {table} p ON p.company_id = c.id
        WHERE c.kind = %s AND {active_sql("c")} AND p.is_representative
            AND {active_sql("p")} AND p.email <> ''{by_company}
    """  # noqa: S608 - names come from the models, values are parameters
    return sql, [*dossier_params, Kind.CONTACT, *bound, *dossier_params, Kind.COMPANY, *bound]


def messages_about(dossier: Dossier) -> QuerySet[Message]:
    """The outgoing messages of a dossier, newest first (linked by `DossierMessage`)."""
    return Message.objects.filter(dossier_link__dossier=dossier).order_by("-created_at", "-id")


def refused_ids() -> QuerySet[DossierMessage, Any]:
    """The ids of the dossiers an e-mail about which was given up, whether or not the
    address still fails (the outbox's partial index on the refused messages, joined to
    their links, finds them without reading the others): the dossier list's "E-mail
    undeliverable" filter and the home's count of running ones."""
    return DossierMessage.objects.filter(message__status=Message.Status.UNDELIVERABLE).values(
        "dossier_id"
    )


def not_reached_ids(organization_id: int) -> QuerySet[DossierMessage, Any]:
    """The ids of the organisation's dossiers that an e-mail could not reach (as
    `not_reached`), found from its few refused messages (the partial index
    `outbox_message_refused`) rather than by probing each dossier: a count over a run of
    100,000 outstanding dossiers read each of them."""
    still_failing = FailingAddress.objects.filter(
        organization_id=OuterRef("message__organization_id"),
        address=Lower(OuterRef("message__address")),
    )
    return (
        DossierMessage.objects.filter(
            message__organization_id=organization_id,
            message__status=Message.Status.UNDELIVERABLE,
        )
        .filter(Exists(still_failing))
        .values("dossier_id")
    )


def not_reached(dossier: str = "pk") -> Exists:
    """A dossier (the outer query's `dossier` column) that an e-mail could not reach: one of
    its messages is undeliverable, to an address that still fails. An expression for the
    apps to the right to filter or annotate with."""
    still_failing = FailingAddress.objects.filter(
        organization_id=OuterRef("message__organization_id"),
        address=Lower(OuterRef("message__address")),
    )
    return Exists(
        DossierMessage.objects.filter(
            dossier=OuterRef(dossier), message__status=Message.Status.UNDELIVERABLE
        ).filter(Exists(still_failing))
    )


def to_review_count(
    organization: Any, *, version: int | EllipsisType | None = versions.UNREAD
) -> int:
    """The dossiers waiting for staff, as the review queue lists them: the layout's badge on
    every page and the home's tile. Kept under the organisation's version of its dossiers
    (`dossiers.versions`, every status move renews it); given the version read with the
    request's membership (`versions.of_request`), the badge costs no query while no write
    commits."""

    def count() -> int:
        # Built only when counted: even building the query costs more than the cached read.
        # Counted on the primary, where the version it is kept under was read (with the
        # memberships): a lagging read replica's count would be kept under a newer version
        # than it saw, and shown until the next write.
        return (
            Dossier.objects.using(DEFAULT_DB_ALIAS)
            .filter(organization=organization, status=Dossier.Status.TO_REVIEW)
            .count()
        )

    if version is None:
        # No dossier write has committed yet: counted, rather than creating a version on a
        # page that only reads (the first write creates it).
        return count()
    return versions.cached(
        organization.pk, "to_review", count, version=None if version is versions.UNREAD else version
    )
