"""The domain's signals, turned into webhook events (api.webhooks.emit).

The domain apps send signals and import nothing of this app; receivers run in the sender's
transaction, so an event's deliveries commit or roll back with the event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django_scopes import scopes_disabled

from api.models import WebhookEndpoint
from api.webhooks import emit, listeners
from dossiers.models import Dossier
from dossiers.signals import run_memo
from profiles.models import DataField, FieldValueHistory, HistoryKind, Profile


def _dossier(dossier: Dossier) -> dict[str, Any]:
    return {
        "dossier": str(dossier.uuid),
        "profile": str(dossier.profile.uuid),
        "kind": dossier.kind,
        "status": dossier.status,
        "title": dossier.title,
        "group": str(dossier.update_group.uuid) if dossier.update_group else None,
        "period": dossier.period.isoformat() if dossier.period else None,
    }


def _listeners(organization_id: int, event: str) -> list[WebhookEndpoint]:
    """`listeners`, read once per run or write (`dossiers.signals.run_memo`): the
    organisation's endpoints are read once, each event picks its own among them."""
    memo = run_memo()
    if memo is None:
        return listeners(organization_id, event)
    key = ("api.endpoints", organization_id)
    if key not in memo:
        with scopes_disabled():
            memo[key] = list(WebhookEndpoint.objects.filter(organization_id=organization_id))
    return [endpoint for endpoint in memo[key] if event in endpoint.events]


def dossiers_sent(organization_id: int, dossier_ids: list[int], **kwargs: Any) -> None:
    endpoints = _listeners(organization_id, "dossier.sent")
    if not endpoints:
        # Nothing listens: the dossiers are not read at all (a run sends this per chunk).
        return
    with scopes_disabled():
        dossiers = Dossier.objects.filter(pk__in=dossier_ids).select_related(
            "profile", "update_group"
        )
        emit(organization_id, "dossier.sent", [_dossier(d) for d in dossiers], endpoints)


def dossier_submitted(dossier: Dossier, **kwargs: Any) -> None:
    event = "dossier.submitted"
    emit(
        dossier.organization_id,
        event,
        [_dossier(dossier)],
        _listeners(dossier.organization_id, event),
    )


def dossier_approved(dossier: Dossier, **kwargs: Any) -> None:
    emit(dossier.organization_id, "dossier.approved", [_dossier(dossier)])


def values_changed(profile: Profile, rows: list[FieldValueHistory], **kwargs: Any) -> None:
    values_changed_rows(profile.organization_id, rows)


def values_imported(organization_id: int, rows: Iterable[FieldValueHistory], **kwargs: Any) -> None:
    """`values_changed` of a whole batch: one look for listeners, one insert; the rows are
    read only when an endpoint listens."""
    values_changed_rows(organization_id, rows)


def values_changed_rows(organization_id: int, rows: Iterable[FieldValueHistory]) -> None:
    changes = (row for row in rows if row.kind == HistoryKind.CHANGE)
    emit(
        organization_id,
        "value.changed",
        (
            {
                "profile": str(row.profile.uuid),
                "field": str(row.field.uuid),
                "old_value": row.old_value,
                "new_value": row.new_value,
                "source": row.source,
                "changed_at": row.changed_at.isoformat(),
            }
            for row in changes
        ),
        _listeners(organization_id, "value.changed"),
    )


def values_expired(organization: Any, values: list[tuple[int, int, Any]], **kwargs: Any) -> None:
    with scopes_disabled():
        profiles = Profile.objects.in_bulk({p for p, _, _ in values})
        fields = DataField.objects.in_bulk({f for _, f, _ in values})
    emit(
        organization.pk,
        "value.expired",
        (
            {
                "profile": str(profiles[p].uuid),
                "field": str(fields[f].uuid),
                "expires_on": expires_on.isoformat(),
            }
            for p, f, expires_on in values
        ),
    )


def run_finished(run: Any, **kwargs: Any) -> None:
    emit(
        run.organization_id,
        "run.finished",
        [
            {
                "group": str(run.group.uuid),
                "period": run.period.isoformat(),
                "dossiers_opened": run.dossiers_opened,
            }
        ],
    )


def connect() -> None:
    from dossiers import signals as dossier_signals
    from monitoring import signals as monitoring_signals
    from profiles import signals as profile_signals

    dossier_signals.dossiers_sent.connect(dossiers_sent, dispatch_uid="api.dossier.sent")
    dossier_signals.dossier_submitted.connect(
        dossier_submitted, dispatch_uid="api.dossier.submitted"
    )
    dossier_signals.dossier_approved.connect(dossier_approved, dispatch_uid="api.dossier.approved")
    profile_signals.values_changed.connect(values_changed, dispatch_uid="api.value.changed")
    profile_signals.values_imported.connect(values_imported, dispatch_uid="api.value.imported")
    monitoring_signals.values_expired.connect(values_expired, dispatch_uid="api.value.expired")
    monitoring_signals.run_finished.connect(run_finished, dispatch_uid="api.run.finished")
